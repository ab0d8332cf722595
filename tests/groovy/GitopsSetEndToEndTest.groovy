// gitopsSet -> the real gitops-helper (the project's venv on the PATH) -> the sandbox
// GitLab started by tests/test_groovy_vars.py, freshly seeded. A hotfix to prod:
// a new image tag without promotion, and two values through `set`. pytest then
// checks the merge request with python-gitlab and the build log for the token.
import groovy.json.JsonOutput

Cases cases = new Cases()

final String GITLAB_URL = PipelineHarness.testSetting('GROOVY_TEST_GITLAB_URL')
final String TOKEN = PipelineHarness.testSetting('GROOVY_TEST_TOKEN')
final File OUT = new File(PipelineHarness.testSetting('GROOVY_TEST_OUT'))
final Map hotfix = [env: 'prod', app: 'example-app', imageTag: '1.0.42-hotfix1', noPromote: true,
                    set: ['configMap.data."cache-ttl"="600"', 'replicas=4'],
                    project: 'platform/k8s-deployments', gitlabUrl: GITLAB_URL]
final String SUBJECT = 'example-app in prod: set image 1.0.42-hotfix1, configMap.data.cache-ttl, replicas [no-promote]'
// What the CLI says it sets, path -> value.
final Map SETS = ['configMap.data.cache-ttl': '600', replicas: 4, 'deployment.image.tag': '1.0.42-hotfix1']
Closure<Map> sets = { Map result -> result.settings.collectEntries { [(it.path): it.after] } }

// Runs the step in a fresh harness; the log is kept for pytest whatever happens.
Closure run = { Map config, Closure check ->
    PipelineHarness h = PipelineHarness.forTest('set')
    h.credentials['gitlab-api-token'] = TOKEN
    try {
        def outcome = h.run('gitopsSet', config)
        check(outcome, h)
        assert !h.log.contains(TOKEN)
    } finally {
        new File(OUT, 'build-log.txt') << h.log
    }
}

cases.test('a dry run plans the change and opens nothing') {
    run(hotfix + [dryRun: true]) { outcome, PipelineHarness h ->
        assert outcome.error == null
        assert outcome.value.status == 'created' && outcome.value.mr_iid == null
        assert sets(outcome.value) == SETS
        assert h.currentBuild.description == "${SUBJECT}: created (dry run)"
    }
}

cases.test('opens the prod merge request through the real CLI, every value as given') {
    run(hotfix) { outcome, PipelineHarness h ->
        assert outcome.error == null
        Map result = outcome.value
        new File(OUT, 'result.json').text = JsonOutput.toJson(result)
        assert result.status == 'created' && result.env == 'prod' && result.promotes == false
        assert result.image.endsWith(':1.0.42-hotfix1')
        assert sets(result) == SETS
        assert h.currentBuild.description == "${SUBJECT}: !${result.mr_iid} created"
        assert h.log.readLines().contains("gitopsSet: ${SUBJECT}: !${result.mr_iid} created ${result.mr_url}".toString())
    }
}

cases.test('running it again changes nothing: the open merge request already says it') {
    run(hotfix) { outcome, PipelineHarness h ->
        assert outcome.error == null
        assert outcome.value.status == 'noop'
        assert h.currentBuild.description ==~ /${java.util.regex.Pattern.quote(SUBJECT)}: noop, already there \(!\d+\)/
    }
}

cases.test('the real CLI refuses a value without = (exit 2)') {
    run(hotfix + [set: ['replicas']]) { outcome, PipelineHarness h ->
        assert outcome.error == 'gitopsSet: gitops-helper rejected the input for setting example-app in prod ' +
                                '(exit 2, bad input); its error: and hint: lines are above. ' +
                                'Check env, app, imageTag, digest, set and project.'
        assert h.log.contains('expected PATH=VALUE')
    }
}

cases.test('the real CLI rejects an injected app (exit 2) and nothing runs') {
    run(hotfix + [app: 'example-app$(touch marker)']) { outcome, PipelineHarness h ->
        assert outcome.error?.contains('(exit 2, bad input)')
        List<File> markers = []
        h.workspace.parentFile.eachFileRecurse { if (it.name == 'marker') markers << it }
        assert markers.isEmpty()
    }
}

cases.finish()
