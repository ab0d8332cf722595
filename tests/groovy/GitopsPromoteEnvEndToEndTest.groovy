// gitopsPromoteEnv -> the real gitops-helper (the project's venv on the PATH) -> the
// sandbox GitLab started by tests/test_groovy_vars.py, whose dev is one promotion
// ahead of stage (example-app 1.0.1). pytest then checks the merge request with
// python-gitlab and the build log for the token.
import groovy.json.JsonOutput

Cases cases = new Cases()

final String GITLAB_URL = PipelineHarness.testSetting('GROOVY_TEST_GITLAB_URL')
final String TOKEN = PipelineHarness.testSetting('GROOVY_TEST_TOKEN')
final File OUT = new File(PipelineHarness.testSetting('GROOVY_TEST_OUT'))
final Map promote = [from: 'dev', to: 'stage', project: 'platform/k8s-deployments', gitlabUrl: GITLAB_URL]

// Runs the step in a fresh harness; the log is kept for pytest whatever happens.
Closure run = { Map config, Closure check ->
    PipelineHarness h = PipelineHarness.forTest('promote-env')
    h.credentials['gitlab-api-token'] = TOKEN
    try {
        def outcome = h.run('gitopsPromoteEnv', config)
        check(outcome, h)
        assert !h.log.contains(TOKEN)
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.test('a dry run plans the promotion and opens nothing') {
    run(promote + [dryRun: true]) { outcome, PipelineHarness h ->
        assert outcome.error == null
        assert outcome.value.units*.unit == ['example-app']
        assert outcome.value.units[0].status == 'created' && outcome.value.units[0].mr_iid == null
        assert h.currentBuild.description == 'dev -> stage: example-app created (dry run)'
    }
}

cases.test('opens the stage merge request through the real CLI') {
    run(promote) { outcome, PipelineHarness h ->
        assert outcome.error == null
        Map result = outcome.value
        new File(OUT, 'result.json').text = JsonOutput.toJson(result)
        Map unit = result.units[0]
        assert result.source == 'dev' && result.target == 'stage'
        assert unit.unit == 'example-app' && unit.status == 'created' && unit.tag == '1.0.1'
        assert h.currentBuild.description == "dev -> stage: example-app !${unit.mr_iid} created"
        assert h.log.contains("gitopsPromoteEnv: dev -> stage: example-app 1.0.1: !${unit.mr_iid} created ${unit.mr_url}")
    }
}

cases.test('running it again changes nothing: the open merge request already says it') {
    run(promote) { outcome, PipelineHarness h ->
        assert outcome.error == null
        assert outcome.value.units*.status == ['noop']
        assert h.currentBuild.description ==~ /dev -> stage: example-app !\d+ noop/
    }
}

cases.test('the real CLI refuses to skip stage without skipEnv (exit 2)') {
    run(promote + [to: 'prod']) { outcome, PipelineHarness h ->
        assert outcome.error?.contains('gitops-helper rejected the input for promoting dev -> prod (exit 2, bad input)')
        assert h.log.contains('error: dev -> prod skips stage')
    }
}

cases.test('the real CLI rejects an injected environment (exit 2) and nothing runs') {
    run(promote + [to: 'stage$(touch marker)']) { outcome, PipelineHarness h ->
        assert outcome.error?.contains('(exit 2, bad input)')
        List<File> markers = []
        h.workspace.parentFile.eachFileRecurse { if (it.name == 'marker') markers << it }
        assert markers.isEmpty()
    }
}

cases.finish()
