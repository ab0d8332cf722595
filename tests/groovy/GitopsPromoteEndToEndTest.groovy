// gitopsPromote -> the real gitops-helper (the project's venv on the PATH) -> the
// sandbox GitLab started by tests/test_groovy_vars.py. The workspace is a clone of
// the sandbox's apps/example-app, as a Jenkins checkout would be. pytest then
// checks the merge request with python-gitlab and the build log for the token.
import groovy.json.JsonOutput

Cases cases = new Cases()

final String GITLAB_URL = PipelineHarness.testSetting('GROOVY_TEST_GITLAB_URL')
final String TOKEN = PipelineHarness.testSetting('GROOVY_TEST_TOKEN')
final File OUT = new File(PipelineHarness.testSetting('GROOVY_TEST_OUT'))
final Map promote = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1',
                     project: 'platform/k8s-deployments', gitlabUrl: GITLAB_URL]

Closure<PipelineHarness> harness = {
    PipelineHarness h = PipelineHarness.forTest('example-app')
    h.credentials['gitlab-api-token'] = TOKEN
    return h
}

cases.test('a dry run plans the promotion and opens nothing') {
    PipelineHarness h = harness()
    try {
        def outcome = h.run('gitopsPromote', promote + [dryRun: true])
        assert outcome.error == null
        assert outcome.value.mr_iid == null
        assert h.currentBuild.description.endsWith(' (dry run)')
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.test('opens a merge request through the real CLI') {
    PipelineHarness h = harness()
    try {
        def outcome = h.run('gitopsPromote', promote)
        assert outcome.error == null
        Map result = outcome.value
        new File(OUT, 'result.json').text = JsonOutput.toJson(result)
        assert result.status == 'created'
        assert result.mr_iid != null
        assert result.app == 'example-app' && result.tag == '1.0.1'
        assert h.currentBuild.description == "example-app 1.0.1 -> ${result.env}: !${result.mr_iid} created"
        assert h.log.contains("gitopsPromote: example-app 1.0.1 -> ${result.env}: !${result.mr_iid} created ${result.mr_url}")
        assert !h.log.contains(TOKEN)
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.test('running it again with the same version changes nothing') {
    PipelineHarness h = harness()
    try {
        def outcome = h.run('gitopsPromote', promote)
        assert outcome.error == null
        assert outcome.value.status == 'noop'
        assert h.currentBuild.description.startsWith("example-app 1.0.1 -> ${outcome.value.env}: noop, already there")
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.test('the real CLI rejects an injected tag (exit 2) and nothing runs') {
    PipelineHarness h = harness()
    try {
        def outcome = h.run('gitopsPromote', promote + [tag: '1.0.0$(touch marker)'])
        assert outcome.error?.contains('(exit 2, bad input)')
        List<File> markers = []
        h.workspace.parentFile.eachFileRecurse { if (it.name == 'marker') markers << it }
        assert markers.isEmpty()
        assert !h.log.contains(TOKEN)
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.finish()
