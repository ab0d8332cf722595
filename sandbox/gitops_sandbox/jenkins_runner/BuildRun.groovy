import groovy.json.JsonOutput
import hudson.AbortException
import jenkins.model.CauseOfInterruption
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

import java.nio.file.Files
import java.nio.file.StandardCopyOption
import java.util.concurrent.TimeUnit

/**
 * One build of a Pipeline job as the sandbox's Jenkins runs it (RunBuild.groovy starts it).
 *
 * The pipeline script compiles as Jenkins' "WorkflowScript"; its `@Library('name')`
 * annotations pick libraries from the configured ones (Jenkins' Global Pipeline
 * Libraries: name -> directory with vars/ and resources/), whose vars/ become steps.
 * On top of PipelineHarness's steps it binds node, stage, dir, checkout (`checkout scm`
 * for jobs whose pipeline comes from git), pwd, deleteDir, script, timeout, junit,
 * params, scm and `pipeline { }` (Declarative.groovy). The log goes to the console as
 * it grows, with Jenkins' `[Pipeline]` lines and credentials masked.
 *
 * Results only get worse (Run.setResult): SUCCESS < UNSTABLE < FAILURE < NOT_BUILT <
 * ABORTED (hudson.model.Result). A FlowInterruptedException that ends the pipeline (a
 * timeout, Stop, a newer build) gives its result and prints its causes after
 * "[Pipeline] End of Pipeline", as WorkflowRun.finish does.
 */
class BuildRun extends PipelineHarness {
    static final String SCRIPT_NAME = 'WorkflowScript'
    static final String NOT_SCM = "'checkout scm' is only available when using \u201cMultibranch Pipeline\u201d " +
                                  "or \u201cPipeline script from SCM\u201d"

    final Map spec
    /** Build parameters as the pipeline sees them (`params`): Strings, Booleans for booleanParam. */
    final Map<String, Object> params = new LinkedHashMap<String, Object>()
    /** The job's SCM (`scm`): url, branch, commit, credentialsId; null for an inline script. */
    final Map scm
    /** Parameters a declarative `parameters { }` declared (Jenkins then adds them to the job). */
    List<Map> declaredParameters = null
    /** The job properties a declarative `options { }` set (buildDiscarder, disableConcurrentBuilds). */
    Map<String, Object> jobProperties = null
    /** What the `junit` steps recorded: the TestResult of the build (null: nothing recorded). */
    Map testReport = null
    private final List<Map> testSuites = []
    /** The stages the pipeline is in, innermost last. */
    private final List<String> stages = []
    private Script pipeline

    BuildRun(Map spec, PrintStream console) {
        super([], new File(spec.workspace as String), spec.env as Map<String, String>)
        this.spec = spec
        this.console = console
        this.scm = spec.scm as Map
        agentEnv.remove('WORKSPACE')  // only inside node { }, as on Jenkins
        cwd = null
        (spec.credentials as Map).each { id, secret -> credentials[id as String] = secret as String }
        (spec.usernamePasswords as Map ?: [:]).each { id, Map pair ->
            usernamePasswords[id as String] = [pair.username as String, pair.password as String]
        }
        (spec.params as List<Map>).each { Map p -> setParam(p.name as String, p.value, p.type as String) }
        currentBuild.number = spec.number as int
        currentBuild.displayName = "#${spec.number}"
        currentBuild.absoluteUrl = agentEnv.BUILD_URL
    }

    void setParam(String name, Object value, String type) {
        boolean flag = type == 'BooleanParameterDefinition' || value instanceof Boolean
        Object typed = flag ? Boolean.valueOf(value.toString()) : (value == null ? '' : value.toString())
        params[name] = typed
        agentEnv[name] = typed.toString()  // Jenkins passes parameters as environment variables too
    }

    /** Compile, load the libraries it names, run; returns the result (SUCCESS, FAILURE, ...). */
    String execute() {
        try {
            pipeline = compile(spec.script as String)
            log('[Pipeline] Start of Pipeline')
            try {
                pipeline.run()
            } finally {
                log('[Pipeline] End of Pipeline')
            }
        } catch (FlowInterruptedException e) {
            e.causes.each { CauseOfInterruption cause -> log(cause.shortDescription) }
            worsen(e.result)
        } catch (AbortException e) {
            fail("ERROR: ${e.message}")
        } catch (MissingMethodException e) {
            fail(e.type in [pipeline?.getClass(), Closure] || e.type?.name == SCRIPT_NAME ?
                 "java.lang.NoSuchMethodError: No such DSL method '${e.method}' found among steps ${stepList()}" :
                 e.toString())
        } catch (Throwable e) {
            // The user's frames only: the pipeline script and the library steps.
            List<String> mine = [SCRIPT_NAME] + libraryStepNames().collect { "${it}.groovy".toString() }
            List<String> frames = e.stackTrace.findAll { it.fileName in mine }.take(8).collect { "\tat ${it}" }
            fail(([e.toString()] + frames).join('\n'))
        }
        return currentBuild.currentResult
    }

    private void fail(String message) {
        log(message)
        worsen('FAILURE')
    }

    static final List<String> RESULTS = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED']

    /** Run.setResult: the build's result becomes `result` only if that is worse. */
    void worsen(String result) {
        currentBuild.result = worse(currentBuild.currentResult, result)
    }

    static String worse(String a, String b) {
        return RESULTS.indexOf(b) > RESULTS.indexOf(a) ? b : a
    }

    /** The result an exception ends a block with: an interruption's own, else FAILURE. */
    static String resultOf(Throwable e) {
        return e instanceof FlowInterruptedException ? e.result : 'FAILURE'
    }

    private List<String> stepList() {
        return (steps().keySet() + libraryStepNames() + ['pipeline']).sort()
    }

    Script compile(String source) {
        LibraryAnnotations annotations = new LibraryAnnotations()
        CompilerConfiguration config = new CompilerConfiguration()
        config.addCompilationCustomizers(
            new ImportCustomizer().addImports('org.jenkinsci.plugins.workflow.libs.Library'), annotations)
        Binding binding = new Binding()
        Script script = new GroovyShell(BuildRun.classLoader, binding, config).parse(source, SCRIPT_NAME)
        Map libraries = spec.libraries as Map
        List<String> unknown = []
        annotations.names.each { String ref ->
            String name = ref.split('@')[0]
            if (libraries[name]) {
                log("Loading library ${ref}")
                libraryRoots << new File(libraries[name] as String).canonicalFile
            } else {
                unknown << name
            }
        }
        if (unknown) {
            throw new AbortException("Could not find any definition of libraries ${unknown}")
        }
        bind(binding)
        binding.setVariable('params', Collections.unmodifiableMap(params))
        binding.setVariable('scm', scm)
        binding.setVariable('pipeline', { Closure body -> new Declarative(this, script).run(body) })
        return script
    }

    // ---- steps and their log lines ------------------------------------------------

    private static final List<String> UNLOGGED = ['string', 'usernamePassword', 'usernameColonPassword', 'pipeline']

    @Override
    protected Map<String, Closure> steps() {
        Map<String, Closure> found = super.steps()
        ['node', 'stage', 'dir', 'checkout', 'pwd', 'deleteDir', 'script', 'timeout', 'junit'].each { step ->
            found[step] = this.&"$step"
        }
        Map<String, Closure> logged = [:]
        found.each { String name, Closure step ->
            logged[name] = { Object[] args ->
                if (!(name in UNLOGGED)) {
                    checkInterrupted()
                    log("[Pipeline] ${name}")
                }
                return step.call(args)
            }
        }
        return logged
    }

    /** A block step's body between Jenkins' `[Pipeline] {` and `[Pipeline] }` lines. */
    Object block(String name, String label, Closure body) {
        open(label)
        try {
            return body.call()
        } finally {
            close(name)
        }
    }

    private void open(String label) {
        log(label ? "[Pipeline] { (${label})" : '[Pipeline] {')
    }

    private void close(String name) {
        log('[Pipeline] }')
        log("[Pipeline] // ${name}")
    }

    Object node(Closure body) {
        return node('', body)
    }

    Object node(String label, Closure body) {
        log("Running on Jenkins in ${workspace.path}")
        workspace.mkdirs()
        File outer = cwd
        cwd = workspace
        Map<String, String> scope = [WORKSPACE: workspace.path, WORKSPACE_TMP: "${workspace.path}@tmp".toString()]
        try {
            return block('node', null) { inScope(scope, body) }
        } finally {
            cwd = outer
        }
    }

    Object stage(String name, Closure body) {
        stages << name
        try {
            return block('stage', name) { inScope([STAGE_NAME: name], body) }
        } finally {
            stages.remove(stages.size() - 1)
        }
    }

    Object dir(String path, Closure body) {
        File target = resolve(path)
        target.mkdirs()
        log("Running in ${target.path}")
        File outer = cwd
        cwd = target
        try {
            return block('dir', null, body)
        } finally {
            cwd = outer
        }
    }

    @Override
    protected Object inStep(String step, Map<String, String> scope, Closure body) {
        open(null)
        try {
            return inScope(scope, body)
        } finally {
            close(step)
        }
    }

    Object script(Closure body) {
        return block('script', null, body)
    }

    // ---- timeout (workflow-basic-steps' TimeoutStep / TimeoutStepExecution) ----------

    static final long GRACE_MILLIS = 60000L

    Object timeout(int minutes, Closure body) {
        return timeout([time: minutes], body)
    }

    /**
     * `timeout(time: 3, unit: 'SECONDS') { ... }` (unit: a TimeUnit name, default
     * MINUTES): when the time is up, "Cancelling nested steps due to timeout" and the
     * body's running step is interrupted with ABORTED, "Timeout has been exceeded";
     * after a minute's grace, again ("terminating with extreme prejudice").
     */
    Object timeout(Map args, Closure body) {
        if (args.activity) {
            throw new AbortException("timeout(activity: true) is not emulated by the sandbox's Jenkins")
        }
        TimeUnit unit = TimeUnit.valueOf((args.unit ?: 'MINUTES').toString())
        long millis = unit.toMillis(args.time as long)
        log("Timeout set to expire in ${timeSpan(millis)}")
        FlowInterruptedException exceeded = new FlowInterruptedException(
            'ABORTED', [new CauseOfInterruption('Timeout has been exceeded')])
        Timer timer = new Timer('sandbox-timeout', true)
        timer.schedule({
            log('Cancelling nested steps due to timeout')
            interrupt(exceeded)
            timer.schedule({
                log('Body did not finish within grace period; terminating with extreme prejudice')
                interrupt(exceeded)
            } as TimerTask, GRACE_MILLIS)
        } as TimerTask, millis)
        try {
            return block('timeout', null, body)
        } finally {
            timer.cancel()
        }
    }

    /** hudson.Util.getTimeSpanString: "45 min", "1 min 0 sec", "3 sec", "1.5 sec", "0.23 sec". */
    static String timeSpan(long duration) {
        List<Long> sizes = [31536000000L, 2592000000L, 86400000L, 3600000L, 60000L, 1000L]
        List<Long> amounts = []
        long rest = duration
        sizes.each { long size ->
            amounts << rest.intdiv(size)
            rest = rest % size
        }
        List<String> labels = ["${amounts[0]} yr", "${amounts[1]} mo",
                               "${amounts[2]} ${amounts[2] == 1 ? 'day' : 'days'}", "${amounts[3]} hr",
                               "${amounts[4]} min", "${amounts[5]} sec"]*.toString()
        for (int i = 0; i < 5; i++) {
            if (amounts[i] > 0) {
                return amounts[i] < 10 ? "${labels[i]} ${labels[i + 1]}" : labels[i]
            }
        }
        long seconds = amounts[5]
        if (seconds >= 10) {
            return "${seconds} sec"
        } else if (seconds >= 1) {
            return "${number(seconds + rest.intdiv(100L) / 10)} sec"
        } else if (rest >= 100) {
            return "${number(rest.intdiv(10L) / 100)} sec"
        }
        return "${rest} ms"
    }

    // MessageFormat's number: no trailing zeros.
    private static String number(BigDecimal value) {
        BigDecimal plain = value.stripTrailingZeros()
        return plain.scale() <= 0 ? plain.toBigInteger().toString() : plain.toPlainString()
    }

    // ---- junit (the JUnit plugin's JUnitResultsStep) ----------------------------------

    static final String NO_REPORTS = 'No test report files were found. Configuration error?'
    static final String EMPTY_RESULT = 'None of the test reports contained any result'

    /**
     * `junit 'pattern'` or `junit(testResults: 'a/*.xml, b/**&#47;*.xml', allowEmptyResults:
     * false, skipMarkingBuildUnstable: false)`: records the reports (the build's
     * testReport), makes the build UNSTABLE when a test failed, returns the counts
     * (TestResultSummary: totalCount, failCount, skipCount, passCount).
     */
    Map junit(Object given) {
        Map args = given instanceof Map ? given as Map : [testResults: given.toString()]
        boolean allowEmpty = args.allowEmptyResults as boolean
        log('Recording test results')
        try {
            String patterns = expand(args.testResults?.toString() ?: '')
            List<File> files = JUnitReport.find(requireWorkspace(), patterns)
            if (!files) {
                if (!allowEmpty) {
                    throw new AbortException(NO_REPORTS)
                }
                log(NO_REPORTS)
            }
            List<Map> suites = JUnitReport.suites(files, stages.reverse(), currentBuild.number)
            Map result = JUnitReport.result(suites)
            int failed = result.failCount as int
            int total = (result.passCount as int) + failed + (result.skipCount as int)
            if (total == 0 && currentBuild.currentResult != 'FAILURE') {
                if (!allowEmpty) {
                    throw new AbortException(EMPTY_RESULT)
                }
                log(EMPTY_RESULT)
            }
            if (total > 0) {  // the build's TestResultAction, merged over junit calls
                testSuites.addAll(suites)
                testReport = JUnitReport.result(testSuites)
                writeAtomically(spec.testReportFile as String, JsonOutput.toJson(testReport))
            }
            if (failed > 0 && !args.skipMarkingBuildUnstable) {
                worsen('UNSTABLE')
            }
            return [totalCount: total, failCount: failed, skipCount: result.skipCount, passCount: result.passCount]
        } catch (AbortException e) {
            log(e.message)  // the step prints its error, then fails (JUnitResultsStepExecution)
            throw e
        }
    }

    /** `${NAME}` and `$NAME` from the build's environment, as Jenkins' EnvVars.expand. */
    String expand(String text) {
        Map<String, String> env = environment()
        return text.replaceAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/) { List<String> m ->
            String name = m[1] ?: m[2]
            return env.containsKey(name) ? env[name] : m[0]
        }
    }

    /** Declarative `options { }` set the job's properties: the sandbox's Jenkins reads them at once. */
    void setJobProperties(Map<String, Object> properties) {
        jobProperties = properties
        writeAtomically(spec.propertiesFile as String, JsonOutput.toJson(properties))
    }

    private static void writeAtomically(String path, String text) {
        if (!path) {
            return
        }
        File target = new File(path)
        target.parentFile.mkdirs()
        File scratch = new File(target.parentFile, ".${target.name}.tmp")
        scratch.setText(text, 'UTF-8')
        Files.move(scratch.toPath(), target.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE)
    }

    String pwd() {
        return requireWorkspace().path
    }

    void deleteDir() {
        requireWorkspace().deleteDir()
    }

    @Override
    File resolve(String path) {
        File file = new File(path)
        return file.absolute ? file : new File(requireWorkspace(), path)
    }

    private File requireWorkspace() {
        if (cwd == null) {
            throw new AbortException('Required context class hudson.FilePath is missing: ' +
                                     'perhaps you forgot to surround the code with a step that provides this, such as: node')
        }
        return cwd
    }

    /** `checkout scm`: fetch the job's repository into the current directory, check out its commit. */
    Map checkout(Object given) {
        if (!(given instanceof Map) || !given.url) {
            throw new AbortException(NOT_SCM)
        }
        return new GitCheckout(this, given as Map).run(requireWorkspace())
    }

    // `sh` refuses to run outside node { } as Jenkins does (no workspace, no agent).
    @Override
    Object sh(Map args) {
        requireWorkspace()
        return super.sh(args)
    }
}
