// gitopsSet, gitopsRollback, gitopsRevert and gitopsDecommission with the fake CLI
// (tests/helpers/fake_gitops_helper.py) first on the PATH: the exact argv each
// command receives, what the steps return, print and describe, and how they fail.
Cases cases = new Cases()

final String MR = 'https://gitlab.example.com/platform/k8s-deployments/-/merge_requests/12'
// Values a shell would change if they were ever part of a script, or a CLI would
// read as an option if passed as `--opt value`.
final String TRICKY = '-x "double" \'single\' $(touch marker) `touch marker` ${HOME} \\n  spaced  '

// Per step: a valid call and the argv it gives; every argument and its argv; the
// summary (description) of the valid call and its log line.
final Map<String, Map> steps = [
    gitopsSet         : [
        valid  : [env: 'prod', app: 'example-app', set: ['replicas=4']],
        argv   : ['set', '--json', '--env=prod', '--app=example-app', '--set=replicas=4'],
        all    : [env: 'stage', app: 'postgres', imageTag: '17-alpine', digest: 'sha256:' + 'a' * 64,
                  set: ['replicas=2', 'configMap.data."cache-ttl"="600"'], noPromote: true, dryRun: true,
                  project: 'group/deploy', gitlabUrl: 'https://gitlab.internal.example'],
        allArgv: ['set', '--json', '--env=stage', '--app=postgres', '--image-tag=17-alpine', '--digest=sha256:' + 'a' * 64,
                  '--set=replicas=2', '--set=configMap.data."cache-ttl"="600"', '--no-promote',
                  '--project=group/deploy', '--gitlab-url=https://gitlab.internal.example', '--dry-run'],
        summary: 'example-app in prod: set replicas: !12 created',
        what   : 'setting example-app in prod',
        check  : 'Check env, app, imageTag, digest, set and project.',
    ],
    gitopsRollback    : [
        valid  : [env: 'prod', app: 'example-app', to: 'previous'],
        argv   : ['rollback', '--json', '--env=prod', '--app=example-app', '--to=previous'],
        all    : [env: 'stage', app: 'postgres', to: '16-alpine', dryRun: true, project: 'group/deploy',
                  gitlabUrl: 'https://gitlab.internal.example'],
        allArgv: ['rollback', '--json', '--env=stage', '--app=postgres', '--to=16-alpine', '--project=group/deploy',
                  '--gitlab-url=https://gitlab.internal.example', '--dry-run'],
        summary: 'example-app in prod: rollback to previous (registry.example.com/example-app:1.0.41): !12 created',
        what   : 'rolling back example-app in prod to previous',
        check  : 'Check env, app, to and project.',
    ],
    gitopsRevert      : [
        valid  : [env: 'stage'],
        argv   : ['revert', '--json', '--env=stage'],
        all    : [env: 'prod', commit: '1a2b3c4d', dryRun: true, project: 'group/deploy',
                  gitlabUrl: 'https://gitlab.internal.example'],
        allArgv: ['revert', '--json', '--env=prod', '--commit=1a2b3c4d', '--project=group/deploy',
                  '--gitlab-url=https://gitlab.internal.example', '--dry-run'],
        summary: 'stage: revert 0123456789ab (!7): !12 created',
        what   : 'reverting the last merge in stage',
        check  : 'Check env, commit and project.',
    ],
    gitopsDecommission: [
        valid  : [app: 'legacy-service'],
        argv   : ['decommission', '--json', '--app=legacy-service'],
        all    : [app: 'user-service', repo: 'apps/user-service', dryRun: true, project: 'group/deploy',
                  gitlabUrl: 'https://gitlab.internal.example'],
        allArgv: ['decommission', '--json', '--app=user-service', '--repo=apps/user-service', '--project=group/deploy',
                  '--gitlab-url=https://gitlab.internal.example', '--dry-run'],
        summary: 'decommission legacy-service: remove it from prod (then stage, dev, main): !12 created',
        what   : 'decommissioning legacy-service',
        check  : 'Check app, repo and project.',
    ],
]

steps.each { String step, Map spec ->
    String command = spec.argv[0]

    cases.test("${step}: every argument reaches the CLI through GITOPS_* variables, as flags") {
        PipelineHarness h = FakeCli.harness("${step}-all")
        assert h.run(step, spec.all).error == null
        List<Map> calls = FakeCli.received(h)
        assert calls.size() == 1
        assert calls[0].argv == spec.allArgv
        assert calls[0].env.GITLAB_TOKEN == FakeCli.TOKEN
    }

    cases.test("${step}: left-out optional arguments are not passed; the agent's GITLAB_URL is used") {
        PipelineHarness h = FakeCli.harness("${step}-minimal")
        assert h.run(step, spec.valid + [dryRun: null, project: '']).error == null
        Map call = FakeCli.received(h)[0]
        assert call.argv == spec.argv
        assert call.env.GITLAB_URL == 'https://gitlab.example.com'
    }

    // Each string argument in turn: it arrives as one argv element, byte for byte.
    spec.all.findAll { key, value -> value instanceof String }.keySet().each { String key ->
        cases.test("${step}: ${key} reaches the CLI verbatim, however it reads to a shell") {
            PipelineHarness h = FakeCli.harness("${step}-verbatim-${key}")
            h.run(step, spec.valid + [(key): TRICKY])
            List<String> argv = FakeCli.received(h)[0].argv
            String option = key == 'imageTag' ? 'image-tag' : key == 'gitlabUrl' ? 'gitlab-url' : key
            assert argv.contains("--${option}=${TRICKY}".toString()): argv
            List<File> markers = []
            h.workspace.parentFile.eachFileRecurse { if (it.name == 'marker') markers << it }
            assert markers.isEmpty()
        }
    }

    cases.test("${step}: returns the CLI's JSON as a plain, serializable map") {
        PipelineHarness h = FakeCli.harness("${step}-result")
        Map result = h.run(step, spec.valid).value
        assert result.status == 'created' && result.mr_iid == 12 && result.mr_url == MR
        assert result.getClass() == LinkedHashMap
        PipelineHarness.assertSerializable(result)
    }

    cases.test("${step}: sets the build description and echoes the summary with the MR's URL") {
        PipelineHarness h = FakeCli.harness("${step}-summary")
        h.currentBuild.description = 'nightly'
        h.run(step, spec.valid)
        assert h.currentBuild.description == "nightly; ${spec.summary}"
        assert h.log.readLines().contains("${step}: ${spec.summary} ${MR}".toString())
    }

    cases.test("${step}: an MR that already does it reads as a noop") {
        PipelineHarness h = FakeCli.harness("${step}-noop")
        h.agentEnv.GITOPS_FAKE_STATUS = 'noop'
        assert h.run(step, spec.valid).error == null
        assert h.currentBuild.description == spec.summary.replace('!12 created', 'noop, already there (!12)')
    }

    cases.test("${step}: a dry run says so, and names no merge request") {
        PipelineHarness h = FakeCli.harness("${step}-dry-run")
        Map result = h.run(step, spec.valid + [dryRun: true]).value
        assert result.dry_run == true && result.mr_iid == null
        assert h.currentBuild.description == spec.summary.replace('!12 created', 'created (dry run)')
    }

    cases.test("${step}: bad input (CLI exit 2) fails the step with a clear error, the CLI's error in the log") {
        PipelineHarness h = FakeCli.harness("${step}-exit-2")
        h.agentEnv.GITOPS_FAKE_BAD_INPUT = 'no such environment'
        def outcome = h.run(step, spec.valid)
        assert outcome.error == "${step}: gitops-helper rejected the input for ${spec.what} (exit 2, bad input); " +
                                "its error: and hint: lines are above. ${spec.check}"
        assert h.log.contains('error: no such environment')
        assert h.currentBuild.description == null
    }

    cases.test("${step}: a failed operation (CLI exit 1) fails the step with a clear error") {
        PipelineHarness h = FakeCli.harness("${step}-exit-1")
        h.agentEnv.GITOPS_FAKE_FAIL = '1'
        def outcome = h.run(step, spec.valid)
        assert outcome.error == "${step}: ${spec.what} failed (gitops-helper exit 1); its error: and hint: lines are above."
        assert h.log.contains('error: GitLab refused the push')
        assert h.currentBuild.description == null
    }

    cases.test("${step}: output that is not JSON fails the step, quoting it") {
        PipelineHarness h = FakeCli.harness("${step}-garbage")
        h.agentEnv.GITOPS_FAKE_GARBAGE = '1'
        assert h.run(step, spec.valid).error == "${step}: gitops-helper ${command} --json printed no JSON object: " +
                                                'Traceback (most recent call last): not JSON'
    }

    cases.test("${step}: the shell scripts are constants, the token bound only around the command") {
        PipelineHarness first = FakeCli.harness("${step}-constant-1")
        first.run(step, spec.valid)
        PipelineHarness second = FakeCli.harness("${step}-constant-2")
        def outcome = second.run(step, spec.all)
        assert first.shCalls*.script == second.shCalls*.script
        assert second.shCalls*.label == ["${step}: find gitops-helper", "${step}: gitops-helper ${command}"]*.toString()
        assert second.shCalls.findAll { it.env.containsKey('GITLAB_TOKEN') }*.label ==
               ["${step}: gitops-helper ${command}".toString()]
        List<String> values = ['postgres', 'user-service', 'group/deploy', 'gitlab.internal.example', FakeCli.TOKEN]
        second.shCalls.each { call -> values.each { value -> assert !call.script.contains(value) } }
        FakeCli.assertNoToken(second, outcome.error, outcome.value)
    }

    cases.test("${step}: the scripts are POSIX: the full call under /bin/sh") {
        PipelineHarness h = FakeCli.harness("${step}-posix-sh")
        h.shell = ['sh', '-c']
        assert h.run(step, spec.all).error == null
        assert FakeCli.received(h)[0].argv == spec.allArgv
    }
}

// gitopsSet's `set` list: one --set per element, each verbatim, in order.
final List<String> SET_VALUES = ['-x=1', 'configMap.data."a b"="$(touch marker)"', "q='\\n'", '  spaced=  ',
                                 'GITOPS_SET_VALUES', 'back=\\', 'env=${HOME}`id`']

[['bash', '-c'], ['sh', '-c']].each { List<String> shell ->
    cases.test("gitopsSet: each element of set is one --set, verbatim and in order (${shell[0]})") {
        PipelineHarness h = FakeCli.harness("set-elements-${shell[0]}")
        h.shell = shell
        assert h.run('gitopsSet', [env: 'prod', app: 'example-app', set: SET_VALUES]).error == null
        Map call = FakeCli.received(h)[0]
        assert call.argv == ['set', '--json', '--env=prod', '--app=example-app'] + SET_VALUES.collect { "--set=${it}".toString() }
        assert call.env.GITOPS_SET == SET_VALUES.join('\n')
        List<File> markers = []
        h.workspace.parentFile.eachFileRecurse { if (it.name == 'marker') markers << it }
        assert markers.isEmpty()
    }
}

cases.test('gitopsSet: without set (an image tag only) no --set is passed') {
    PipelineHarness h = FakeCli.harness('set-image-only')
    assert h.run('gitopsSet', [env: 'prod', app: 'example-app', imageTag: '1.0.42-hotfix1', set: []]).error == null
    assert FakeCli.received(h)[0].argv == ['set', '--json', '--env=prod', '--app=example-app', '--image-tag=1.0.42-hotfix1']
    assert h.currentBuild.description == 'example-app in prod: set image 1.0.42-hotfix1: !12 created'
}

cases.test('gitopsSet: a hotfix says [no-promote], and the CLI\'s warnings are echoed') {
    PipelineHarness h = FakeCli.harness('set-no-promote')
    h.agentEnv.GITOPS_FAKE_WARNING = 'warning: replicas above the policy\'s 10'
    h.run('gitopsSet', [env: 'prod', app: 'example-app', imageTag: '1.0.42-hotfix1', noPromote: true])
    assert h.currentBuild.description == 'example-app in prod: set image 1.0.42-hotfix1 [no-promote]: !12 created'
    assert h.log.readLines().contains('gitopsSet: warning: replicas above the policy\'s 10')
}

cases.test('gitopsRevert: downstream merge requests it closed are echoed') {
    PipelineHarness h = FakeCli.harness('revert-closed')
    h.run('gitopsRevert', [env: 'stage', commit: '1a2b3c4d'])
    assert h.currentBuild.description == 'stage: revert 1a2b3c4d (!7): !12 created'
    assert h.log.readLines().contains('gitopsRevert: closed !13: it carried the reverted change onwards')
}

cases.test('gitopsDecommission: once no branch holds the app, it reports the Jenkins clean-up') {
    PipelineHarness h = FakeCli.harness('decommission-done')
    h.agentEnv.GITOPS_FAKE_DECOMMISSION = 'done'
    Map result = h.run('gitopsDecommission', [app: 'legacy-service']).value
    assert result.step == 'done'
    assert h.currentBuild.description == 'decommission legacy-service: done, in no branch; Jenkins job deleted'
    assert h.log.readLines().contains('gitopsDecommission: decommission legacy-service: done, in no branch; Jenkins job deleted')
}

cases.test('gitopsDecommission: a clean-up left unfinished says why, and does not fail') {
    PipelineHarness h = FakeCli.harness('decommission-cleanup')
    h.agentEnv.GITOPS_FAKE_DECOMMISSION = 'cleanup'
    assert h.run('gitopsDecommission', [app: 'legacy-service']).error == null
    assert h.currentBuild.description == 'decommission legacy-service: in no branch, Jenkins clean-up not finished; ' +
                                         'Jenkins job left: JENKINS_URL, JENKINS_USER and JENKINS_TOKEN are not set'
}

cases.finish()
