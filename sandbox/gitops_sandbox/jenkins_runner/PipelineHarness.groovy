import hudson.AbortException

import java.nio.charset.StandardCharsets
import java.util.concurrent.TimeUnit

import jenkins.model.CauseOfInterruption
import org.codehaus.groovy.runtime.InvokerHelper
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Just enough of a Jenkins pipeline run to execute a shared library's vars/ steps
 * under real Groovy, with real shell commands. One runner for two users: the Groovy
 * tests of vars/ (tests/groovy/, through PipelineHarness.forTest) and the sandbox's
 * Jenkins, whose BuildRun extends this class with the pipeline-level steps.
 *
 * Steps bound: sh (bash -c through ProcessBuilder; `set -xe` first unless the script
 * has a shebang, as Jenkins runs `sh -xe`; throws AbortException("script returned exit
 * code N") like Jenkins), withEnv (Jenkins' override rules: empty value unsets, PATH+X
 * prepends), withCredentials + string(...) (Secret text, from `credentials`),
 * usernamePassword(...) and usernameColonPassword(...) (Username with password, from
 * `usernamePasswords`), error, echo, libraryResource (resources/ of the libraries),
 * writeFile, readFile, fileExists, isUnix, env, currentBuild; and every
 * vars/<name>.groovy of the libraries as a step.
 *
 * The build log (`log`) records everything echoed or printed by sh, UNMASKED: Jenkins
 * would mask credentials, so a test here sees whether a secret is printed at all. The
 * console stream (`console`, the sandbox's consoleText) masks bound secrets with ****,
 * as Jenkins does. `sh` output reaches both line by line while the command runs, as
 * Jenkins' durable-task step streams it.
 *
 * An interruption (`interrupt`: a timeout, Stop, a newer build) stops the process a
 * step waits for ("Sending interrupt signal to process", its whole process tree, as
 * durable-task signals the script's processes) and is thrown as the step's
 * FlowInterruptedException; between steps, the next step throws it (as Jenkins'
 * CPS thread does).
 */
class PipelineHarness {
    /** Library roots (each with vars/ and resources/), searched in order. */
    final List<File> libraryRoots
    final File workspace
    /** The agent's environment, before withEnv and withCredentials. */
    final Map<String, String> agentEnv = new LinkedHashMap<String, String>()
    /** Credential id -> secret text, for withCredentials([string(...)]). */
    final Map<String, String> credentials = new LinkedHashMap<String, String>()
    /** Credential id -> [username, password]: "Username with password" credentials. */
    final Map<String, List<String>> usernamePasswords = new LinkedHashMap<String, List<String>>()
    final CurrentBuild currentBuild = new CurrentBuild()
    /** Every sh call: script, label, env, exit code. */
    final List<Map> shCalls = []
    /** The command a script runs under; the script is the last argument. */
    List<String> shell = ['bash', '-c']
    long shTimeoutSeconds = 600
    /** Where the log is streamed as it grows, with secrets masked; null: nowhere. */
    PrintStream console
    /** The directory sh runs in and relative paths resolve against (dir { } moves it). */
    File cwd

    private final StringBuilder buildLog = new StringBuilder()
    private final List<Map<String, String>> scopes = []
    private final Set<String> secrets = new LinkedHashSet<String>()
    private final Map<String, Script> loaded = [:]
    // Lines come from sh's reader threads and timers as well as the pipeline's thread.
    private final Object logLock = new Object()
    private final Object interruptLock = new Object()
    /** The process the current step waits for (sh, git), which an interruption stops. */
    private Process waitingFor
    /** An interruption not yet thrown by a step. */
    private FlowInterruptedException pending

    /**
     * Compiled vars/ scripts by path and text: compiling is most of a step's first call,
     * and a test makes a new harness per case. Each harness still gets its own instance,
     * bound to its own steps (Jenkins, too, compiles a library once per build).
     */
    private static final Map<String, Class> COMPILED = [:]

    PipelineHarness(File libraryRoot, File workspace, Map<String, String> agentEnv) {
        this([libraryRoot], workspace, agentEnv)
    }

    PipelineHarness(List<File> libraryRoots, File workspace, Map<String, String> agentEnv) {
        this.libraryRoots = libraryRoots.collect { it.canonicalFile }
        this.workspace = workspace.canonicalFile
        this.workspace.mkdirs()
        this.cwd = this.workspace
        this.agentEnv.putAll(agentEnv)
        this.agentEnv.WORKSPACE = this.workspace.path
    }

    /**
     * A harness as set up by tests/test_groovy_vars.py: the library at GROOVY_TEST_LIBRARY,
     * a workspace `name` under GROOVY_TEST_WORK, the agent's environment from this
     * process's with PATH = GROOVY_TEST_AGENT_PATH and without the GROOVY_TEST_* variables.
     */
    static PipelineHarness forTest(String name) {
        Map<String, String> env = new LinkedHashMap<String, String>()
        System.getenv().each { key, value ->
            if (!key.startsWith('GROOVY_TEST_')) {
                env[key] = value
            }
        }
        env.PATH = testSetting('GROOVY_TEST_AGENT_PATH')
        File work = new File(testSetting('GROOVY_TEST_WORK'))
        return new PipelineHarness(new File(testSetting('GROOVY_TEST_LIBRARY')), new File(work, name), env)
    }

    static String testSetting(String name) {
        String value = System.getenv(name)
        if (!value) {
            throw new IllegalStateException("${name} is not set: run this through tests/test_groovy_vars.py")
        }
        return value
    }

    File getLibraryRoot() {
        return libraryRoots ? libraryRoots[0] : null
    }

    /** The steps a script sees, by name (BuildRun adds the pipeline-level ones). */
    protected Map<String, Closure> steps() {
        Map<String, Closure> found = [:]
        ['sh', 'withEnv', 'withCredentials', 'string', 'usernamePassword', 'usernameColonPassword',
         'error', 'echo', 'libraryResource', 'writeFile', 'readFile', 'fileExists', 'isUnix'].each { step ->
            found[step] = this.&"$step"
        }
        return found
    }

    /** The names of the libraries' vars/*.groovy, which scripts call as steps. */
    List<String> libraryStepNames() {
        Set<String> names = new TreeSet<String>()
        libraryRoots.each { root ->
            new File(root, 'vars').listFiles()?.each { file ->
                if (file.name.endsWith('.groovy')) {
                    names << file.name[0..-8]
                }
            }
        }
        return names as List<String>
    }

    /** Fill a script's binding: env, currentBuild, the steps and the library steps. */
    void bind(Binding binding) {
        binding.setVariable('env', new Env(this))
        binding.setVariable('currentBuild', currentBuild)
        libraryStepNames().each { name ->
            binding.setVariable(name, new LibraryStep(this, name))
        }
        steps().each { name, step -> binding.setVariable(name, step) }
    }

    /** vars/<name>.groovy compiled as Jenkins does: a Script whose unknown calls are the steps. */
    Script load(String name) {
        Script cached = loaded[name]
        if (cached != null) {
            return cached
        }
        File source = libraryRoots.collect { new File(it, "vars/${name}.groovy") }.find { it.isFile() }
        if (source == null) {
            throw new IllegalArgumentException("No vars/${name}.groovy in ${libraryRoots}")
        }
        Binding binding = new Binding()
        bind(binding)
        Script script = InvokerHelper.createScript(compiled(source), binding)
        loaded[name] = script
        return script
    }

    private static Class compiled(File source) {
        String text = source.getText('UTF-8')
        String key = "${source.path}\u0000${text}"
        synchronized (COMPILED) {
            Class type = COMPILED[key]
            if (type == null) {
                type = new GroovyShell(PipelineHarness.classLoader).parse(text, source.name).getClass()
                COMPILED[key] = type
            }
            return type
        }
    }

    /** Call a step; an AbortException (error, a failed sh) is returned as `error`, as a build failure. */
    Outcome run(String name, Map config) {
        Script step = load(name)
        try {
            return new Outcome(value: step.invokeMethod('call', [config] as Object[]))
        } catch (AbortException e) {
            log("ERROR: ${e.message}")
            return new Outcome(error: e.message)
        }
    }

    String getLog() {
        return buildLog.toString()
    }

    void log(Object text) {
        String line = text.toString()
        if (!line.endsWith('\n')) {
            line += '\n'
        }
        synchronized (logLock) {
            buildLog.append(line)
            if (console != null) {
                console.print(mask(line))
                console.flush()
            }
        }
    }

    /** Jenkins' masking: every secret bound so far shows as ****, the longest first. */
    String mask(String text) {
        String masked = text
        List<String> known
        synchronized (logLock) {
            known = secrets.sort(false) { -it.length() }
        }
        known.each { secret -> masked = masked.replace(secret, '****') }
        return masked
    }

    // ---- interruptions -------------------------------------------------------------

    /** Interrupt the build where it is: the running step's process is stopped, the step throws. */
    void interrupt(String result, String cause) {
        interrupt(new FlowInterruptedException(result, [new CauseOfInterruption(cause)]))
    }

    void interrupt(FlowInterruptedException cause) {
        Process process
        synchronized (interruptLock) {
            pending = cause
            process = waitingFor
        }
        if (process != null) {
            log('Sending interrupt signal to process')
            stop(process)
        }
    }

    /** Throw the interruption that came since the last step, once. */
    void checkInterrupted() {
        FlowInterruptedException cause
        synchronized (interruptLock) {
            cause = pending
            pending = null
        }
        if (cause != null) {
            throw cause
        }
    }

    /** SIGTERM to a step's process and everything it started. */
    static void stop(Process process) {
        List<Object> tree = []
        Iterator<?> descendants = process.toHandle().descendants().iterator()
        while (descendants.hasNext()) {
            tree << descendants.next()
        }
        process.destroy()
        tree.each { it.destroy() }
    }

    /** Wait for a step's process (exit code); an interruption meanwhile stops it and is thrown. */
    int await(Process process, long timeoutSeconds, String what) {
        boolean early
        synchronized (interruptLock) {
            waitingFor = process
            early = pending != null
        }
        try {
            if (early) {
                log('Sending interrupt signal to process')
                stop(process)
            }
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly()
                throw new IllegalStateException("${what} did not finish in ${timeoutSeconds} s")
            }
        } finally {
            synchronized (interruptLock) {
                waitingFor = null
            }
        }
        checkInterrupted()
        return process.exitValue()
    }

    /** A thread that logs what `stream` says, line by line as the lines come. */
    protected Thread streamLines(InputStream stream) {
        return Thread.start {
            ByteArrayOutputStream line = new ByteArrayOutputStream()
            byte[] chunk = new byte[8192]
            int n
            while ((n = stream.read(chunk)) >= 0) {
                for (int i = 0; i < n; i++) {
                    line.write(chunk[i])
                    if (chunk[i] == (byte) '\n') {
                        log(new String(line.toByteArray(), StandardCharsets.UTF_8))
                        line.reset()
                    }
                }
            }
            if (line.size()) {
                log(new String(line.toByteArray(), StandardCharsets.UTF_8))
            }
        }
    }

    /** The environment a step sees now: the agent's, then each open scope (outermost first). */
    Map<String, String> environment() {
        Map<String, String> result = new LinkedHashMap<String, String>(agentEnv)
        scopes.each { scope -> scope.each { key, value -> override(result, key, value) } }
        return result
    }

    // EnvVars.override: `PATH+X=dir` prepends to PATH, an empty value removes the variable.
    protected static void override(Map<String, String> env, String key, String value) {
        int plus = key.indexOf('+')
        if (plus > 0) {
            String real = key.substring(0, plus)
            String old = env[real]
            env[real] = old ? "${value}${File.pathSeparator}${old}".toString() : value
        } else if (value == null || value.isEmpty()) {
            env.remove(key)
        } else {
            env[key] = value
        }
    }

    // ---- steps -------------------------------------------------------------------

    Object sh(String script) {
        return sh([script: script])
    }

    Object sh(Map args) {
        checkInterrupted()
        String script = args.script.toString()
        boolean returnStdout = args.returnStdout as boolean
        boolean returnStatus = args.returnStatus as boolean
        Map<String, String> env = environment()
        String effective = script.startsWith('#!') ? script : "set -xe\n${script}"
        ProcessBuilder builder = new ProcessBuilder(shell + [effective])
        builder.directory(cwd)
        builder.environment().clear()
        builder.environment().putAll(env)
        builder.redirectErrorStream(!returnStdout)
        Process process = builder.start()
        process.outputStream.close()
        // The console gets the output as it comes; returnStdout keeps stdout for the
        // caller (stderr still goes to the console), as durable-task does.
        StringBuilder out = new StringBuilder()
        Thread outReader = returnStdout ? process.consumeProcessOutputStream(out) : streamLines(process.inputStream)
        Thread errReader = returnStdout ? streamLines(process.errorStream) : null
        int code
        try {
            code = await(process, shTimeoutSeconds, "sh: ${script}")
        } finally {
            outReader.join()
            errReader?.join()
        }
        shCalls << [script: script, label: args.label, env: env, exitCode: code, returnStdout: returnStdout]
        if (code != 0 && !returnStatus) {
            throw new AbortException("script returned exit code ${code}")
        }
        return returnStatus ? code : (returnStdout ? out.toString() : null)
    }

    Object withEnv(List overrides, Closure body) {
        Map<String, String> scope = new LinkedHashMap<String, String>()
        overrides.each { pair ->
            String text = pair.toString()
            int split = text.indexOf('=')
            if (split < 0) {
                throw new IllegalArgumentException(text)
            }
            scope[text.substring(0, split)] = text.substring(split + 1)
        }
        return inStep('withEnv', scope, body)
    }

    Map string(Map args) {
        return [kind: 'string', credentialsId: args.credentialsId?.toString(), variable: args.variable?.toString()]
    }

    Map usernamePassword(Map args) {
        return [kind: 'usernamePassword', credentialsId: args.credentialsId?.toString(),
                usernameVariable: args.usernameVariable?.toString(),
                passwordVariable: args.passwordVariable?.toString()]
    }

    Map usernameColonPassword(Map args) {
        return [kind: 'usernameColonPassword', credentialsId: args.credentialsId?.toString(),
                variable: args.variable?.toString()]
    }

    Object withCredentials(List bindings, Closure body) {
        Map<String, String> scope = new LinkedHashMap<String, String>()
        bindings.each { Map binding ->
            String id = binding.credentialsId?.toString()
            if (binding.kind == 'usernamePassword') {
                List<String> pair = usernamePassword(id)
                scope[binding.usernameVariable] = pair[0]  // not a secret (isUsernameSecret: false)
                scope[binding.passwordVariable] = pair[1]
            } else if (binding.kind == 'usernameColonPassword') {
                List<String> pair = usernamePassword(id)
                scope[binding.variable] = secretValue("${pair[0]}:${pair[1]}".toString())
            } else {
                scope[binding.variable] = secret(id)
            }
        }
        return inStep('withCredentials', scope, body)
    }

    static final String SECRET_TEXT = 'Secret text'
    static final String USERNAME_PASSWORD = 'Username with password'

    /** A Secret text credential's value, from now on masked in the console. */
    String secret(String credentialsId) {
        String value = credentials[credentialsId]
        if (value == null) {
            throw notFound(credentialsId, SECRET_TEXT)
        }
        return secretValue(value)
    }

    /** A Username with password credential: [username, password], the password masked. */
    List<String> usernamePassword(String credentialsId) {
        List<String> pair = usernamePasswords[credentialsId]
        if (pair == null) {
            throw notFound(credentialsId, USERNAME_PASSWORD)
        }
        secretValue(pair[1])
        return [pair[0], pair[1]]
    }

    /** Credentials Binding's MultiBinding.getCredentials: missing, or of another type. */
    private AbortException notFound(String credentialsId, String expected) {
        String type = credentials.containsKey(credentialsId) ? SECRET_TEXT :
                      (usernamePasswords.containsKey(credentialsId) ? USERNAME_PASSWORD : null)
        if (type == null) {
            return new AbortException("Could not find credentials entry with ID '${credentialsId}'")
        }
        return new AbortException("Credentials '${credentialsId}' is of type '${type}' where '${expected}' was expected")
    }

    /** `value` is a secret from now on: masked in the console. */
    String secretValue(String value) {
        if (value) {
            synchronized (logLock) {
                secrets << value
            }
        }
        return value
    }

    void error(String message) {
        throw new AbortException(message)
    }

    void echo(Object message) {
        checkInterrupted()
        log(message)
    }

    boolean isUnix() {
        return true
    }

    String libraryResource(String path) {
        File file = libraryRoots.collect { new File(it, "resources/${path}") }.find { it.isFile() }
        if (file == null) {
            throw new AbortException("No such library resource ${path} could be found.")
        }
        return file.getText('UTF-8')
    }

    void writeFile(Map args) {
        File file = resolve(args.file.toString())
        file.parentFile.mkdirs()
        file.setText(args.text.toString(), (args.encoding ?: 'UTF-8').toString())
    }

    String readFile(Object args) {
        String path = args instanceof Map ? args.file.toString() : args.toString()
        return resolve(path).getText('UTF-8')
    }

    boolean fileExists(String path) {
        return resolve(path).exists()
    }

    // ---- helpers -----------------------------------------------------------------

    File resolve(String path) {
        File file = new File(path)
        return file.absolute ? file : new File(cwd, path)
    }

    /** The body of a block step (withEnv, withCredentials) with its variables set. */
    protected Object inStep(String step, Map<String, String> scope, Closure body) {
        return inScope(scope, body)
    }

    protected Object inScope(Map<String, String> scope, Closure body) {
        scopes << scope
        try {
            return body.call()
        } finally {
            scopes.remove(scopes.size() - 1)
        }
    }

    /** Fails unless `value` survives Java serialization, as CPS needs of anything kept across steps. */
    static void assertSerializable(Object value) {
        ObjectOutputStream stream = new ObjectOutputStream(new ByteArrayOutputStream())
        try {
            stream.writeObject(value)
        } finally {
            stream.close()
        }
    }

    /** `env` as a pipeline sees it: reads the current scopes, writes the agent's environment. */
    static class Env extends GroovyObjectSupport {
        private final PipelineHarness harness

        Env(PipelineHarness harness) {
            this.harness = harness
        }

        @Override
        Object getProperty(String name) {
            return harness.environment()[name]
        }

        @Override
        void setProperty(String name, Object value) {
            harness.agentEnv[name] = value?.toString()
        }

        /** `env.getEnvironment()`, as Jenkins' EnvActionImpl offers it. */
        Map<String, String> getEnvironment() {
            return harness.environment()
        }
    }

    static class CurrentBuild {
        int number
        String description
        String displayName
        String result
        String absoluteUrl

        /** SUCCESS until something sets `result` (Jenkins' currentResult). */
        String getCurrentResult() {
            return result ?: 'SUCCESS'
        }
    }

    static class Outcome {
        Object value
        String error
    }
}

/**
 * A vars/<name>.groovy step as Jenkins binds it: `name(...)` runs its call, and
 * `name.other(...)` its other methods (how one step uses another's helpers). A
 * Closure, since a Script only calls Closures held in its binding; its owner is
 * a bare Object so that no owner method shadows the step's own.
 */
class LibraryStep extends Closure {
    private final PipelineHarness harness
    private final String name

    LibraryStep(PipelineHarness harness, String name) {
        super(new Object())
        this.harness = harness
        this.name = name
    }

    Object doCall(Object... args) {
        return harness.load(name).invokeMethod('call', args)
    }

    Object methodMissing(String method, Object args) {
        return harness.load(name).invokeMethod(method, args)
    }
}
