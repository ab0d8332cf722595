import hudson.AbortException
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.customizers.ImportCustomizer

/**
 * One build of a Pipeline job as the sandbox's Jenkins runs it (RunBuild.groovy starts it).
 *
 * The pipeline script compiles as Jenkins' "WorkflowScript"; its `@Library('name')`
 * annotations pick libraries from the configured ones (Jenkins' Global Pipeline
 * Libraries: name -> directory with vars/ and resources/), whose vars/ become steps.
 * On top of PipelineHarness's steps it binds node, stage, dir, checkout (`checkout scm`
 * for jobs whose pipeline comes from git), pwd, deleteDir, script, params, scm and
 * `pipeline { }` (Declarative.groovy). The log goes to the console as it grows, with
 * Jenkins' `[Pipeline]` lines and credentials masked.
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
    private Script pipeline

    BuildRun(Map spec, PrintStream console) {
        super([], new File(spec.workspace as String), spec.env as Map<String, String>)
        this.spec = spec
        this.console = console
        this.scm = spec.scm as Map
        agentEnv.remove('WORKSPACE')  // only inside node { }, as on Jenkins
        cwd = null
        (spec.credentials as Map).each { id, secret -> credentials[id as String] = secret as String }
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

    /** Compile, load the libraries it names, run; returns the result (SUCCESS, FAILURE). */
    String execute() {
        try {
            pipeline = compile(spec.script as String)
            log('[Pipeline] Start of Pipeline')
            try {
                pipeline.run()
            } finally {
                log('[Pipeline] End of Pipeline')
            }
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
        if (currentBuild.currentResult == 'SUCCESS') {
            currentBuild.result = 'FAILURE'
        }
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

    private static final List<String> UNLOGGED = ['string', 'pipeline']

    @Override
    protected Map<String, Closure> steps() {
        Map<String, Closure> found = super.steps()
        ['node', 'stage', 'dir', 'checkout', 'pwd', 'deleteDir', 'script'].each { step ->
            found[step] = this.&"$step"
        }
        Map<String, Closure> logged = [:]
        found.each { String name, Closure step ->
            logged[name] = { Object[] args ->
                if (!(name in UNLOGGED)) {
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
        return block('stage', name) { inScope([STAGE_NAME: name], body) }
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
