// gitopsPromote's argument checks: they fail the build before any shell runs.
Cases cases = new Cases()

Map valid = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1']

// Runs the step with `config`; returns the error, asserting that nothing ran.
Closure<String> rejected = { Object config -> Rejected.message('gitopsPromote', config) }

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
    assert rejected(Rejected.NO_ARGUMENTS).contains("missing required arguments 'app', 'image', 'tag'")
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

List<String> strings = ['app', 'image', 'tag', 'digest', 'env', 'project', 'appRepoDir', 'gitlabUrl', 'credentialsId']
strings.each { String key ->
    cases.test("a control character in ${key} is refused before anything is echoed") {
        Rejected.controlCharacterRefused('gitopsPromote', valid, key)
    }
}

// Every line break, control and bidi character in the tag (a U+2028 there forged a
// build-log line: issue 19), and each in turn in another argument too.
Rejected.UNSAFE.eachWithIndex { String character, int i ->
    String shown = Rejected.escaped(character)
    cases.test("${shown} in tag is refused before anything is echoed") {
        Rejected.controlCharacterRefused('gitopsPromote', valid, 'tag', character)
    }
    String key = (strings - ['tag'])[i % (strings.size() - 1)]
    cases.test("${shown} in ${key} is refused before anything is echoed") {
        Rejected.controlCharacterRefused('gitopsPromote', valid, key, character)
    }
}

cases.test('the check refuses every control character, line or paragraph separator and bidi control, and nothing else') {
    Script cli = PipelineHarness.forTest('unsafe').load('gitopsHelperCli')
    List<Integer> bidi = [0x061c, 0x200e, 0x200f] + (0x202a..0x202e).toList() + (0x2066..0x2069).toList()
    List<String> wrong = []
    for (int code = 0; code <= 0xffff; code++) {
        char c = (char) code
        int type = Character.getType(c)
        boolean unsafe = type == Character.CONTROL || type == Character.LINE_SEPARATOR ||
                         type == Character.PARAGRAPH_SEPARATOR || bidi.contains(code)
        if (cli.isUnsafe(c) != unsafe) {
            wrong << String.format('U+%04X', code)
        }
    }
    assert wrong.isEmpty()
    assert Rejected.UNSAFE.every { cli.isUnsafe(it as char) }
}

cases.test('outside a node (no workspace) the step says so') {
    Rejected.noWorkspaceRefused('gitopsPromote', valid)
}

cases.finish()
