import hudson.AbortException
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException

/**
 * Declarative Pipeline, the subset the sandbox runs:
 *
 *   pipeline {
 *     agent any | none | { label 'x' }
 *     options {
 *       skipDefaultCheckout()
 *       timeout(time: 45, unit: 'MINUTES')
 *       buildDiscarder(logRotator(numToKeepStr: '30', daysToKeepStr: ''))
 *       disableConcurrentBuilds() | disableConcurrentBuilds(abortPrevious: true)
 *     }                                          // other options are ignored, with a note
 *     parameters { string(...) booleanParam(...) text(...) choice(...) }
 *     environment { NAME = 'value'; TOKEN = credentials('id') }
 *     stages { stage('Name') { environment { } steps { ... } post { } } }
 *     post { always { } aborted { } success { } unsuccessful { } unstable { } failure { }
 *            notBuilt { } cleanup { } }
 *   }
 *
 * As on Jenkins (pipeline-model-definition's ModelInterpreter): the options that are
 * job properties (buildDiscarder, disableConcurrentBuilds) are set on the job when the
 * build starts; with an agent and a job from SCM, `checkout scm` runs first, then the
 * environment, then the `timeout` option around the stages and post; parameters take
 * their declared defaults when the build did not get them (and the job gets the
 * parameters after the build); after a failed stage the others are skipped, then post
 * runs, its conditions in BuildCondition's order, each against the build's result
 * combined with the error (BuildCondition.getCombinedResult). Directives outside this
 * list (`when`, `tools`, `parallel`, stage agents, ...) fail the build with their name.
 */
class Declarative {
    final BuildRun run
    final Script script
    String agent
    boolean checkout = true
    Map timeout = null
    final Map<String, Object> properties = [:]
    final List<Map> parameters = []
    final Map<String, Object> environment = [:]
    final List<DeclarativeStage> stages = []
    final Map<String, Closure> post = [:]

    Declarative(BuildRun run, Script script) {
        this.run = run
        this.script = script
    }

    /** Read the `pipeline { }` block, then run it. */
    void run(Closure body) {
        configure(body, new DeclarativeTop(this))
        if (agent == null) {
            throw new AbortException('Missing required section "agent"')
        }
        run.setJobProperties(properties)
        if (parameters) {
            run.declaredParameters = parameters
            parameters.each { Map p ->
                if (!run.params.containsKey(p.name)) {
                    run.setParam(p.name as String, p.defaultValue, p.type as String)
                }
            }
        }
        Closure everything = {
            if (checkout && run.scm) {
                run.log('[Pipeline] stage')
                run.stage('Declarative: Checkout SCM') {
                    run.log('[Pipeline] checkout')
                    run.checkout(run.scm)
                }
            }
            run.inScope(resolve(environment)) {
                if (timeout != null) {
                    run.log('[Pipeline] timeout')
                    run.timeout(timeout) { runStages() }
                } else {
                    runStages()
                }
            }
        }
        if (agent == 'none') {
            everything.call()
        } else {
            run.log('[Pipeline] node')
            run.node(agent == 'any' ? '' : agent, everything)
        }
    }

    private void runStages() {
        Throwable failure = null
        stages.each { DeclarativeStage stage ->
            run.log('[Pipeline] stage')
            if (failure != null) {
                run.block('stage', stage.name) { run.log("Stage \"${stage.name}\" skipped due to earlier failure(s)") }
                return
            }
            try {
                run.stage(stage.name) {
                    run.inScope(resolve(stage.environment)) {
                        try {
                            steps(stage.steps)
                        } finally {
                            runPost(stage.post, null)
                        }
                    }
                }
            } catch (Throwable e) {
                failure = failure ?: e
                run.worsen(BuildRun.resultOf(e))
            }
        }
        if (post) {
            run.log('[Pipeline] stage')
            run.block('stage', 'Declarative: Post Actions') { runPost(post, failure) }
        }
        if (failure != null) {
            throw failure
        }
    }

    /** The post conditions the sandbox runs, in BuildCondition's order (by ordinal). */
    static final List<String> CONDITIONS = ['always', 'aborted', 'success', 'unsuccessful', 'unstable',
                                            'failure', 'notBuilt', 'cleanup']

    private void runPost(Map<String, Closure> conditions, Throwable failure) {
        CONDITIONS.each { condition ->
            if (!conditions[condition]) {
                return
            }
            // Evaluated when its turn comes: an earlier condition's steps may change the result.
            String result = BuildRun.worse(run.currentBuild.currentResult,
                                           failure == null ? 'SUCCESS' : BuildRun.resultOf(failure))
            boolean applies = condition in ['always', 'cleanup'] ||
                              (condition == 'aborted' && result == 'ABORTED') ||
                              (condition == 'success' && result == 'SUCCESS') ||
                              (condition == 'unsuccessful' && result != 'SUCCESS') ||
                              (condition == 'unstable' && result == 'UNSTABLE') ||
                              (condition == 'failure' && result == 'FAILURE') ||
                              (condition == 'notBuilt' && result == 'NOT_BUILT')
            if (applies) {
                steps(conditions[condition])
            }
        }
    }

    /** Steps run against the pipeline script, so they see its steps, env, params, variables. */
    private void steps(Closure body) {
        Closure steps = (Closure) body.clone()
        steps.delegate = script
        steps.resolveStrategy = Closure.DELEGATE_FIRST
        steps.call()
    }

    /**
     * environment { } values as strings. credentials('id') is the secret of a Secret text
     * credential; of a Username with password one, `user:password`, with NAME_USR and
     * NAME_PSW besides (the Declarative syntax's "credentials() helper"); both masked.
     */
    private Map<String, String> resolve(Map<String, Object> values) {
        Map<String, String> scope = [:]
        values.each { name, value ->
            if (value instanceof DeclarativeCredential && run.usernamePasswords.containsKey(value.id)) {
                List<String> pair = run.usernamePassword(value.id)
                scope[name] = run.secretValue("${pair[0]}:${pair[1]}".toString())
                scope["${name}_USR".toString()] = pair[0]
                scope["${name}_PSW".toString()] = pair[1]
            } else {
                scope[name] = value instanceof DeclarativeCredential ? run.secret(value.id) : value?.toString()
            }
        }
        return scope
    }

    static void configure(Closure body, Object delegate) {
        Closure copy = (Closure) body.clone()
        copy.delegate = delegate
        copy.resolveStrategy = Closure.DELEGATE_ONLY
        copy.call()
    }
}

// ---- the directives: each block is read with one of these as its delegate -------------

/** Unknown directives fail with their name (Jenkins would reject the script). */
abstract class DeclarativeSection {
    def methodMissing(String name, Object args) {
        throw new AbortException("Declarative pipeline: '${name}' is not supported by the sandbox's Jenkins")
    }
}

class DeclarativeTop extends DeclarativeSection {
    final Declarative d

    DeclarativeTop(Declarative d) { this.d = d }

    String getAny() { return 'any' }
    String getNone() { return 'none' }

    void agent(Object spec) {
        if (spec instanceof Closure) {
            Map found = [:]
            Declarative.configure(spec, new DeclarativeAgent(found))
            d.agent = found.label ?: 'any'
        } else {
            d.agent = spec.toString()
        }
    }

    void options(Closure body) { Declarative.configure(body, new DeclarativeOptions(d)) }
    void parameters(Closure body) { Declarative.configure(body, new DeclarativeParameters(d.parameters)) }
    void environment(Closure body) { Declarative.configure(body, new DeclarativeEnvironment(d.script, d.environment)) }
    void stages(Closure body) { Declarative.configure(body, new DeclarativeStages(d)) }
    void post(Closure body) { Declarative.configure(body, new DeclarativePost(d.post)) }
}

class DeclarativeAgent extends DeclarativeSection {
    final Map found

    DeclarativeAgent(Map found) { this.found = found }

    void label(String name) { found.label = name }
}

class DeclarativeOptions {
    final Declarative d

    DeclarativeOptions(Declarative d) { this.d = d }

    void skipDefaultCheckout(boolean skip = true) { d.checkout = !skip }

    /** Around the stages and post (a wrapper, ModelInterpreter.inWrappers). */
    void timeout(Map args) { d.timeout = args }

    void timeout(int minutes) { d.timeout = [time: minutes] }

    /** A job property: after each build, older builds are discarded (core's LogRotator). */
    void buildDiscarder(Map strategy) { d.properties.buildDiscarder = strategy }

    /** LogRotator's fields; an empty or unreadable number is -1, "keep all". */
    Map logRotator(Map args) {
        return [numToKeep        : count(args.numToKeepStr ?: args.numToKeep),
                daysToKeep       : count(args.daysToKeepStr ?: args.daysToKeep),
                artifactNumToKeep: count(args.artifactNumToKeepStr ?: args.artifactNumToKeep),
                artifactDaysToKeep: count(args.artifactDaysToKeepStr ?: args.artifactDaysToKeep)]
    }

    /** A job property (workflow-job's DisableConcurrentBuildsJobProperty). */
    void disableConcurrentBuilds(Map args = [:]) {
        d.properties.disableConcurrentBuilds = [abortPrevious: args.abortPrevious as boolean]
    }

    private static int count(Object value) {
        try {
            return value == null || value.toString().trim().isEmpty() ? -1 : Integer.parseInt(value.toString().trim())
        } catch (NumberFormatException ignored) {
            return -1
        }
    }

    def methodMissing(String name, Object args) {
        d.run.log("Option ${name} is not emulated by the sandbox: ignored")
    }
}

class DeclarativeParameters extends DeclarativeSection {
    final List<Map> parameters

    DeclarativeParameters(List<Map> parameters) { this.parameters = parameters }

    void string(Map spec) { add(spec, 'StringParameterDefinition', spec.defaultValue ?: '') }
    void text(Map spec) { add(spec, 'TextParameterDefinition', spec.defaultValue ?: '') }
    void booleanParam(Map spec) { add(spec, 'BooleanParameterDefinition', spec.defaultValue ?: false) }

    void choice(Map spec) {
        List choices = spec.choices instanceof List ? spec.choices : spec.choices.toString().readLines()
        add(spec, 'ChoiceParameterDefinition', choices ? choices[0] : '')
    }

    private void add(Map spec, String type, Object defaultValue) {
        parameters << [name: spec.name as String, type: type, defaultValue: defaultValue,
                       description: (spec.description ?: '') as String]
    }
}

/** NAME = value assignments; reads (params.X, env.X) come from the pipeline script. */
class DeclarativeEnvironment extends DeclarativeSection {
    final Script script
    final Map<String, Object> values

    DeclarativeEnvironment(Script script, Map<String, Object> values) {
        this.script = script
        this.values = values
    }

    DeclarativeCredential credentials(String id) { return new DeclarativeCredential(id: id) }

    def propertyMissing(String name, Object value) { values[name] = value }

    def propertyMissing(String name) { return script.getProperty(name) }
}

class DeclarativeStages extends DeclarativeSection {
    final Declarative d

    DeclarativeStages(Declarative d) { this.d = d }

    void stage(String name, Closure body) {
        DeclarativeStage stage = new DeclarativeStage(name: name)
        Declarative.configure(body, new DeclarativeStageSpec(d.script, stage))
        d.stages << stage
    }
}

class DeclarativeStageSpec extends DeclarativeSection {
    final Script script
    final DeclarativeStage stage

    DeclarativeStageSpec(Script script, DeclarativeStage stage) {
        this.script = script
        this.stage = stage
    }

    void steps(Closure body) { stage.steps = body }
    void environment(Closure body) { Declarative.configure(body, new DeclarativeEnvironment(script, stage.environment)) }
    void post(Closure body) { Declarative.configure(body, new DeclarativePost(stage.post)) }
}

class DeclarativePost extends DeclarativeSection {
    final Map<String, Closure> conditions

    DeclarativePost(Map<String, Closure> conditions) { this.conditions = conditions }

    void always(Closure body) { conditions.always = body }
    void aborted(Closure body) { conditions.aborted = body }
    void success(Closure body) { conditions.success = body }
    void unsuccessful(Closure body) { conditions.unsuccessful = body }
    void failure(Closure body) { conditions.failure = body }
    void unstable(Closure body) { conditions.unstable = body }
    void notBuilt(Closure body) { conditions.notBuilt = body }
    void cleanup(Closure body) { conditions.cleanup = body }
}

class DeclarativeStage {
    String name
    Closure steps = {}
    Map<String, Object> environment = [:]
    Map<String, Closure> post = [:]
}

class DeclarativeCredential {
    String id
}
