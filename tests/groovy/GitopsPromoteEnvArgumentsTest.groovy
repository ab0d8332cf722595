// gitopsPromoteEnv's argument checks: they fail the build before any shell runs.
Cases cases = new Cases()

Map valid = [from: 'dev', to: 'stage']

Closure<String> rejected = { Object config -> Rejected.message('gitopsPromoteEnv', config) }

cases.test('a missing target is named, with an example') {
    String message = rejected([from: 'dev'])
    assert message.contains("missing required argument 'to'")
    assert message.contains("Example: gitopsPromoteEnv(from: 'dev', to: 'stage')")
}

cases.test('from: params.FROM when FROM is not set (null) is missing') {
    assert rejected(valid + [from: null]).contains("missing required argument 'from'")
}

cases.test('no arguments at all: gitopsPromoteEnv()') {
    assert rejected(Rejected.NO_ARGUMENTS).contains("missing required arguments 'from', 'to'")
}

cases.test('unknown arguments are named, with the known ones') {
    String message = rejected(valid + [skip_env: true, app: 'example-app'])
    assert message.contains("unknown arguments 'app', 'skip_env'")
    assert message.contains('from, to, apps, platform, group, skipEnv, dryRun, project, gitlabUrl, credentialsId')
    assert message.contains('Global Variables Reference > gitopsPromoteEnv')
}

['platform', 'skipEnv', 'dryRun'].each { String flag ->
    cases.test("${flag} must be a boolean, not the string \"true\"") {
        assert rejected(valid + [(flag): 'true']).contains("argument '${flag}' must be true or false, got String 'true'")
    }
}

cases.test('apps as a list is refused, with the comma-separated form') {
    String message = rejected(valid + [apps: ['example-app', 'user-service']])
    assert message.contains("argument 'apps' must be a string")
    assert message.contains("apps: 'example-app,user-service'")
}

cases.test('an empty credentialsId is refused') {
    assert rejected(valid + [credentialsId: ' ']).contains("argument 'credentialsId' is empty")
}

List<String> strings = ['from', 'to', 'apps', 'project', 'gitlabUrl', 'credentialsId']
strings.each { String key ->
    cases.test("a control character in ${key} is refused before anything is echoed") {
        Rejected.controlCharacterRefused('gitopsPromoteEnv', valid, key)
    }
}

// Every line break, control and bidi character, each in one argument, in turn.
Rejected.UNSAFE.eachWithIndex { String character, int i ->
    String key = strings[i % strings.size()]
    cases.test("${Rejected.escaped(character)} in ${key} is refused before anything is echoed") {
        Rejected.controlCharacterRefused('gitopsPromoteEnv', valid, key, character)
    }
}

cases.test('outside a node (no workspace) the step says so') {
    Rejected.noWorkspaceRefused('gitopsPromoteEnv', valid)
}

cases.finish()
