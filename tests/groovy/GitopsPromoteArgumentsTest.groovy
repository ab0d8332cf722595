// gitopsPromote's argument checks: they fail the build before any shell runs.
Cases cases = new Cases()

Map valid = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1']

// Runs the step with `config`; returns the error, asserting that nothing ran.
Closure<String> rejected = { Object config, String workspace = 'arguments' ->
    PipelineHarness h = PipelineHarness.forTest(workspace)
    Script step = h.load('gitopsPromote')
    String message = null
    try {
        config == '(none)' ? step.invokeMethod('call', [] as Object[]) : step.invokeMethod('call', [config] as Object[])
    } catch (hudson.AbortException e) {
        message = e.message
    }
    assert message != null: 'the step did not fail'
    assert message.startsWith('gitopsPromote: ')
    assert h.shCalls.isEmpty(): "a shell ran before the arguments were checked: ${h.shCalls*.script}"
    return message
}

cases.test('a missing tag is named') {
    String message = rejected(valid.findAll { it.key != 'tag' })
    assert message.contains("missing required argument 'tag'")
    assert message.contains('tag: env.IMAGE_TAG')
}

cases.test('tag: env.IMAGE_TAG when IMAGE_TAG is not set (null) is missing') {
    assert rejected(valid + [tag: null]).contains("missing required argument 'tag'")
}

cases.test('a blank app is missing') {
    assert rejected(valid + [app: '  ']).contains("missing required argument 'app'")
}

cases.test('every missing argument is named at once') {
    assert rejected([tag: '1.0.1']).contains("missing required arguments 'app', 'image'")
}

cases.test('no arguments at all: gitopsPromote()') {
    assert rejected('(none)').contains("missing required arguments 'app', 'image', 'tag'")
}

cases.test('a null map is no arguments') {
    assert rejected(null).contains("missing required arguments 'app', 'image', 'tag'")
}

cases.test('unknown arguments are named, with the known ones') {
    String message = rejected(valid + [dry_run: true, enviroment: 'dev'])
    assert message.contains("unknown arguments 'dry_run', 'enviroment'")
    assert message.contains('app, image, tag, digest, env, project, credentialsId, appRepoDir, dryRun, gitlabUrl')
}

cases.test('a misspelt required argument is reported as unknown, not as missing') {
    String message = rejected([app: 'example-app', image: 'registry.example.com/example-app', tga: '1.0.1'])
    assert message.contains("unknown argument 'tga'")
}

cases.test('a number where a string belongs is refused, with the fix') {
    String message = rejected(valid + [tag: 1.0])
    assert message.contains("argument 'tag' must be a string")
    assert message.contains("tag: '1.0'")
}

cases.test('dryRun must be a boolean, not the string "false"') {
    assert rejected(valid + [dryRun: 'false']).contains("argument 'dryRun' must be true or false")
}

cases.test('an empty credentialsId is refused') {
    assert rejected(valid + [credentialsId: '']).contains("argument 'credentialsId' is empty")
}

['app', 'image', 'tag', 'digest', 'env', 'project', 'appRepoDir', 'gitlabUrl', 'credentialsId'].each { String key ->
    cases.test("a control character in ${key} is refused before anything is echoed") {
        String forged = '1.0.1\r\ngitopsPromote: example-app 9.9.9 -> prod: !99 created'
        PipelineHarness h = PipelineHarness.forTest("control-${key}")
        def outcome = h.run('gitopsPromote', valid + [(key): forged])
        assert outcome.error.contains("argument '${key}' contains a control character")
        assert outcome.error.contains('1.0.1\\u000d\\u000agitopsPromote: example-app 9.9.9')
        assert !outcome.error.contains('\n') && !outcome.error.contains('\r')
        assert h.shCalls.isEmpty()
        assert !h.log.readLines().any { it.startsWith('gitopsPromote: example-app 9.9.9') }
    }
}

cases.test('outside a node (no workspace) the step says so') {
    PipelineHarness h = PipelineHarness.forTest('no-node')
    h.agentEnv.remove('WORKSPACE')
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error.contains('no workspace')
    assert h.shCalls.isEmpty()
}

cases.finish()
