// The argument checks of gitopsSet, gitopsRollback, gitopsRevert and gitopsDecommission
// (gitopsHelperCli's, with each step's own list): they fail the build before any shell runs.
Cases cases = new Cases()

// Per step: a valid call, the required arguments, every known one (in order), its
// example, its booleans, and its string arguments.
final Map<String, Map> steps = [
    gitopsSet         : [
        valid   : [env: 'prod', app: 'example-app', set: ['replicas=4']],
        required: ['env', 'app'],
        known   : 'env, app, imageTag, digest, set, noPromote, dryRun, project, gitlabUrl, credentialsId',
        example : "gitopsSet(env: 'prod', app: 'example-app', set: ['replicas=4'])",
        flags   : ['noPromote', 'dryRun'],
        strings : ['env', 'app', 'imageTag', 'digest', 'project', 'gitlabUrl', 'credentialsId'],
    ],
    gitopsRollback    : [
        valid   : [env: 'prod', app: 'example-app', to: 'previous'],
        required: ['env', 'app', 'to'],
        known   : 'env, app, to, dryRun, project, gitlabUrl, credentialsId',
        example : "gitopsRollback(env: 'prod', app: 'example-app', to: 'previous')",
        flags   : ['dryRun'],
        strings : ['env', 'app', 'to', 'project', 'gitlabUrl', 'credentialsId'],
    ],
    gitopsRevert      : [
        valid   : [env: 'stage'],
        required: ['env'],
        known   : 'env, commit, dryRun, project, gitlabUrl, credentialsId',
        example : "gitopsRevert(env: 'stage', commit: 'last')",
        flags   : ['dryRun'],
        strings : ['env', 'commit', 'project', 'gitlabUrl', 'credentialsId'],
    ],
    gitopsDecommission: [
        valid   : [app: 'legacy-service'],
        required: ['app'],
        known   : 'app, repo, dryRun, project, gitlabUrl, credentialsId',
        example : "gitopsDecommission(app: 'legacy-service')",
        flags   : ['dryRun'],
        strings : ['app', 'repo', 'project', 'gitlabUrl', 'credentialsId'],
    ],
]

steps.each { String step, Map spec ->
    Closure<String> rejected = { Object config -> Rejected.message(step, config) }

    cases.test("${step}: no arguments at all names every required one, with an example") {
        List<String> required = spec.required
        String message = rejected(Rejected.NO_ARGUMENTS)
        assert message.contains("missing required argument${required.size() > 1 ? 's' : ''} " +
                                required.collect { "'${it}'" }.join(', '))
        assert message.contains("Example: ${spec.example}")
    }

    spec.required.each { String key ->
        cases.test("${step}: ${key}: params.X when X is not set (null) is missing") {
            assert rejected(spec.valid + [(key): null]).contains("missing required argument '${key}'")
        }
    }

    cases.test("${step}: unknown arguments are named, with the known ones") {
        String message = rejected(spec.valid + [dry_run: true, credentials: 'x'])
        assert message.contains("unknown arguments 'credentials', 'dry_run'")
        assert message.contains("it takes ${spec.known} ")
        assert message.contains("Global Variables Reference > ${step}")
    }

    spec.flags.each { String flag ->
        cases.test("${step}: ${flag} must be a boolean, not the string \"true\"") {
            assert rejected(spec.valid + [(flag): 'true']).contains(
                "argument '${flag}' must be true or false, got String 'true'")
        }
    }

    cases.test("${step}: an empty credentialsId is refused") {
        assert rejected(spec.valid + [credentialsId: ' ']).contains("argument 'credentialsId' is empty")
    }

    spec.strings.each { String key ->
        cases.test("${step}: a control character in ${key} is refused before anything is echoed") {
            Rejected.controlCharacterRefused(step, spec.valid, key)
        }
    }

    // Every line break, control and bidi character, each in one argument, in turn.
    Rejected.UNSAFE.eachWithIndex { String character, int i ->
        String key = spec.strings[i % spec.strings.size()]
        cases.test("${step}: ${Rejected.escaped(character)} in ${key} is refused before anything is echoed") {
            Rejected.controlCharacterRefused(step, spec.valid, key, character)
        }
    }

    cases.test("${step}: outside a node (no workspace) the step says so") {
        Rejected.noWorkspaceRefused(step, spec.valid)
    }
}

cases.test('gitopsRollback: a number for to is refused, with the quoted form') {
    String message = Rejected.message('gitopsRollback', [env: 'prod', app: 'example-app', to: 1.5])
    assert message.contains("argument 'to' must be a string, got BigDecimal '1.5'; quote it: to: '1.5'")
}

// gitopsSet's `set`: a list of strings, one value each, as its own --set.
final Map setValid = steps.gitopsSet.valid

cases.test('gitopsSet: set as one string is refused, with the list form') {
    String message = Rejected.message('gitopsSet', setValid + [set: 'replicas=4'])
    assert message.contains("argument 'set' must be a list of strings, got String 'replicas=4'; e.g. set: ['replicas=4']")
}

cases.test('gitopsSet: a non-string element of set is refused') {
    String message = Rejected.message('gitopsSet', setValid + [set: ['replicas=4', 5]])
    assert message.contains("argument 'set' must be a list of strings, got ArrayList '[replicas=4, 5]'")
}

cases.test('gitopsSet: an empty element of set is refused') {
    assert Rejected.message('gitopsSet', setValid + [set: ['replicas=4', '']]).contains(
        "argument 'set' has an empty element (number 2)")
}

// A newline inside an element would make it two --set values (or forge a log line),
// and so would any other line break where the log is read; a bidi control reorders it.
Rejected.UNSAFE.each { String character ->
    String shown = Rejected.escaped(character)
    cases.test("gitopsSet: ${shown} inside an element of set is refused before anything is echoed") {
        String forged = "replicas=4${character}gitopsSet: example-app in prod: set debug: !99 created"
        PipelineHarness h = PipelineHarness.forTest('control-set')
        def outcome = h.run('gitopsSet', setValid + [set: ['debug=true', forged]])
        assert outcome.error.startsWith("gitopsSet: argument 'set' contains a control character")
        assert outcome.error.contains("in element 2: 'replicas=4${shown}gitopsSet: example-app")
        assert !outcome.error.contains(character)
        assert h.shCalls.isEmpty()
        assert !h.log.readLines().any { it.startsWith('gitopsSet: example-app in prod: set debug: !99') }
    }
}

cases.test('gitopsSet: a GString element of set passes the checks') {
    String n = '4'
    PipelineHarness h = PipelineHarness.forTest('set-gstring')
    h.agentEnv.remove('WORKSPACE')  // stops the step right after the checks
    def outcome = h.run('gitopsSet', setValid + [set: ["replicas=${n}"]])
    assert outcome.error == 'gitopsSet: no workspace: call it inside node { } or a stage with an agent'
}

cases.finish()
