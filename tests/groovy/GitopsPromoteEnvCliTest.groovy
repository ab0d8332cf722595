// gitopsPromoteEnv with the fake CLI (tests/helpers/fake_gitops_helper.py) first on the PATH:
// how values reach the CLI, what the step returns and prints, how it fails.
import groovy.json.JsonSlurper

Cases cases = new Cases()

final Map valid = [from: 'dev', to: 'stage']
final String MRS = 'https://gitlab.example.com/platform/k8s-deployments/-/merge_requests'

cases.test('every argument reaches the CLI through GITOPS_* variables, as flags') {
    PipelineHarness h = FakeCli.harness('env-all-arguments')
    def outcome = h.run('gitopsPromoteEnv', [from: 'dev', to: 'prod', apps: 'example-app,user-service',
                                             platform: true, skipEnv: true, dryRun: true,
                                             project: 'platform/deployments', gitlabUrl: 'https://gitlab.internal.example'])
    assert outcome.error == null
    List<Map> calls = FakeCli.received(h)
    assert calls.size() == 1
    assert calls[0].argv == ['promote-env', '--json', '--from=dev', '--to=prod', '--apps=example-app,user-service',
                             '--platform', '--skip-env', '--project=platform/deployments',
                             '--gitlab-url=https://gitlab.internal.example', '--dry-run']
    Map env = calls[0].env
    assert env.subMap(['GITOPS_FROM', 'GITOPS_TO', 'GITOPS_APPS', 'GITOPS_PLATFORM', 'GITOPS_SKIP_ENV',
                       'GITOPS_DRY_RUN', 'GITOPS_PROJECT', 'GITOPS_GITLAB_URL']) ==
           [GITOPS_FROM: 'dev', GITOPS_TO: 'prod', GITOPS_APPS: 'example-app,user-service', GITOPS_PLATFORM: 'true',
            GITOPS_SKIP_ENV: 'true', GITOPS_DRY_RUN: 'true', GITOPS_PROJECT: 'platform/deployments',
            GITOPS_GITLAB_URL: 'https://gitlab.internal.example']
    assert env.GITLAB_TOKEN == FakeCli.TOKEN
}

cases.test('left-out optional arguments are not passed; the agent\'s GITLAB_URL is used') {
    PipelineHarness h = FakeCli.harness('env-minimal')
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error == null
    Map call = FakeCli.received(h)[0]
    assert call.argv == ['promote-env', '--json', '--from=dev', '--to=stage']
    assert call.env.GITLAB_URL == 'https://gitlab.example.com'
    assert !call.env.containsKey('GITOPS_APPS')
    assert call.env.GITOPS_PLATFORM == 'false'
}

cases.test('an empty apps (a job parameter left blank) means every unit') {
    PipelineHarness h = FakeCli.harness('env-empty-apps')
    assert h.run('gitopsPromoteEnv', valid + [apps: '']).error == null
    assert FakeCli.received(h)[0].argv == ['promote-env', '--json', '--from=dev', '--to=stage']
}

cases.test('null flags (parameters the job does not declare) are left out, as their defaults') {
    PipelineHarness h = FakeCli.harness('env-null-flags')
    def outcome = h.run('gitopsPromoteEnv', valid + [apps: null, platform: null, skipEnv: null, dryRun: null])
    assert outcome.error == null
    assert FakeCli.received(h)[0].argv == ['promote-env', '--json', '--from=dev', '--to=stage']
    assert h.currentBuild.description == 'dev -> stage: example-app !12 created'
}

cases.test('returns the CLI\'s JSON as a plain, serializable map') {
    PipelineHarness h = FakeCli.harness('env-result')
    Map result = h.run('gitopsPromoteEnv', valid).value
    assert result.keySet() == ['dry_run', 'project', 'skipped', 'source', 'source_commit', 'target', 'units'] as Set
    assert result.units == [[branch: 'promote/stage/example-app',
                             changes: [[added: 1, path: 'env.cue', removed: 1, status: 'modified']],
                             kind: 'app', mr_iid: 12, mr_url: "${MRS}/12".toString(), reason: null, status: 'created',
                             superseded: [], tag: '1.0.1', unit: 'example-app', warnings: []]]
    assert result.getClass() == LinkedHashMap
    assert result.units.getClass() == ArrayList
    assert result.units[0].getClass() == LinkedHashMap
    PipelineHarness.assertSerializable(result)
}

cases.test('sets the build description and echoes one line per unit') {
    PipelineHarness h = FakeCli.harness('env-summary')
    h.agentEnv.GITOPS_FAKE_UNITS = 'example-app=created,user-service=updated,platform=noop'
    h.run('gitopsPromoteEnv', valid)
    assert h.currentBuild.description == 'dev -> stage: example-app !12 created, user-service !13 updated, platform noop'
    List<String> lines = h.log.readLines().findAll { it.startsWith('gitopsPromoteEnv: ') }
    assert lines == ["gitopsPromoteEnv: dev -> stage: example-app 1.0.1: !12 created ${MRS}/12",
                     "gitopsPromoteEnv: dev -> stage: user-service 1.0.1: !13 updated ${MRS}/13",
                     'gitopsPromoteEnv: dev -> stage: platform: noop']*.toString()
}

cases.test('adds to a description set earlier in the build') {
    PipelineHarness h = FakeCli.harness('env-description')
    h.currentBuild.description = 'nightly'
    h.run('gitopsPromoteEnv', valid)
    assert h.currentBuild.description == 'nightly; dev -> stage: example-app !12 created'
}

cases.test('a dry run says what would be opened, and opens nothing') {
    PipelineHarness h = FakeCli.harness('env-dry-run')
    Map result = h.run('gitopsPromoteEnv', valid + [dryRun: true]).value
    assert result.dry_run == true && result.units[0].mr_iid == null
    assert h.currentBuild.description == 'dev -> stage: example-app created (dry run)'
    assert h.log.readLines().contains(
        'gitopsPromoteEnv: dev -> stage: example-app 1.0.1: would be created (dry run) on promote/stage/example-app')
}

cases.test('skipped environments show in the description') {
    PipelineHarness h = FakeCli.harness('env-skip')
    h.run('gitopsPromoteEnv', [from: 'dev', to: 'prod', skipEnv: true])
    assert h.currentBuild.description == 'dev -> prod (skipping stage): example-app !12 created'
}

cases.test('nothing to promote reads as such and succeeds') {
    PipelineHarness h = FakeCli.harness('env-nothing')
    h.agentEnv.GITOPS_FAKE_UNITS = 'none'
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error == null && outcome.value.units == []
    assert h.currentBuild.description == 'dev -> stage: nothing to promote'
    assert h.log.readLines().contains(
        'gitopsPromoteEnv: dev -> stage: nothing to promote, the target has everything the source has')
}

cases.test('a blocked unit fails the build naming it and why, after every unit is reported') {
    PipelineHarness h = FakeCli.harness('env-blocked')
    h.agentEnv.GITOPS_FAKE_UNITS = 'example-app=created,user-service=blocked'
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error == 'gitopsPromoteEnv: dev -> stage: 1 unit blocked, no merge request for it: user-service ' +
                            '(user-service 1.0.1 needs platform changes not yet in stage:). ' +
                            'Every unit and the full reasons are listed above.'
    assert h.currentBuild.description == 'dev -> stage: example-app !12 created, user-service blocked'
    List<String> log = h.log.readLines()
    assert log.contains("gitopsPromoteEnv: dev -> stage: example-app 1.0.1: !12 created ${MRS}/12".toString())
    int at = log.indexOf('gitopsPromoteEnv: dev -> stage: user-service 1.0.1: blocked, no merge request: ' +
                         'user-service 1.0.1 needs platform changes not yet in stage:')
    assert at >= 0
    assert log[at + 1] == '    apps."user-service".app.newField: field not allowed'
    assert log.last() == "ERROR: ${outcome.error}".toString()
}

cases.test('the CLI\'s answer is echoed on one marked JSON line, each unit without its changes') {
    PipelineHarness h = FakeCli.harness('env-result-line')
    h.agentEnv.GITOPS_FAKE_UNITS = 'example-app=created,platform=noop'
    Map result = h.run('gitopsPromoteEnv', valid).value
    List<String> marked = h.log.readLines().findAll { it.startsWith('gitopsPromoteEnv result (JSON): ') }
    assert marked.size() == 1
    Map reported = (Map) new JsonSlurper().parseText(marked[0] - 'gitopsPromoteEnv result (JSON): ')
    assert reported.source == 'dev' && reported.target == 'stage' && reported.project == result.project
    assert reported.units == result.units.collect { Map u -> u.findAll { k, v -> k != 'changes' } }
    assert reported.units*.mr_url == ["${MRS}/12".toString(), null]
}

cases.test('a blocked unit is on the marked line too, before the build fails') {
    PipelineHarness h = FakeCli.harness('env-result-line-blocked')
    h.agentEnv.GITOPS_FAKE_UNITS = 'example-app=created,user-service=blocked'
    def outcome = h.run('gitopsPromoteEnv', valid)
    List<String> log = h.log.readLines()
    int at = log.findIndexOf { it.startsWith('gitopsPromoteEnv result (JSON): ') }
    assert at >= 0 && at < log.size() - 1 && log.last() == "ERROR: ${outcome.error}".toString()
    Map reported = (Map) new JsonSlurper().parseText(log[at] - 'gitopsPromoteEnv result (JSON): ')
    assert reported.units*.status == ['created', 'blocked']
    assert reported.units[1].reason.startsWith('user-service 1.0.1 needs platform changes not yet in stage:\n')
}

cases.test('a failed operation (no JSON) echoes no marked line') {
    PipelineHarness h = FakeCli.harness('env-result-line-none')
    h.agentEnv.GITOPS_FAKE_FAIL = '1'
    assert h.run('gitopsPromoteEnv', valid).error != null
    assert !h.log.contains('gitopsPromoteEnv result (JSON): ')
}

cases.test('several blocked units are all named') {
    PipelineHarness h = FakeCli.harness('env-blocked-two')
    h.agentEnv.GITOPS_FAKE_UNITS = 'a=blocked,b=blocked'
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error.startsWith('gitopsPromoteEnv: dev -> stage: 2 units blocked, no merge request for them: ' +
                                    'a (a 1.0.1 needs platform changes not yet in stage:); b (b 1.0.1 needs')
}

cases.test('bad input (CLI exit 2) fails the step with a clear error, the CLI\'s error in the log') {
    PipelineHarness h = FakeCli.harness('env-exit-2')
    h.agentEnv.GITOPS_FAKE_BAD_INPUT = 'dev -> prod skips stage'
    def outcome = h.run('gitopsPromoteEnv', [from: 'dev', to: 'prod'])
    assert outcome.error == 'gitopsPromoteEnv: gitops-helper rejected the input for promoting dev -> prod ' +
                            '(exit 2, bad input); its error: and hint: lines are above. ' +
                            'Check from, to, apps, skipEnv and project.'
    assert h.log.contains('error: dev -> prod skips stage')
    assert h.currentBuild.description == null
}

cases.test('a failed operation (CLI exit 1, no JSON) fails the step with a clear error') {
    PipelineHarness h = FakeCli.harness('env-exit-1')
    h.agentEnv.GITOPS_FAKE_FAIL = '1'
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error == 'gitopsPromoteEnv: promoting dev -> stage failed (gitops-helper exit 1); ' +
                            'its error: and hint: lines are above.'
    assert h.log.contains('error: GitLab refused the push')
    assert h.currentBuild.description == null
}

cases.test('output that is not JSON fails the step, quoting it') {
    PipelineHarness h = FakeCli.harness('env-garbage')
    h.agentEnv.GITOPS_FAKE_GARBAGE = '1'
    def outcome = h.run('gitopsPromoteEnv', valid)
    assert outcome.error == 'gitopsPromoteEnv: gitops-helper promote-env --json printed no JSON object: ' +
                            'Traceback (most recent call last): not JSON'
}

cases.test('the shell scripts are constants: no argument value is ever part of a script') {
    PipelineHarness first = FakeCli.harness('env-constant-1')
    first.run('gitopsPromoteEnv', valid)
    PipelineHarness second = FakeCli.harness('env-constant-2')
    second.run('gitopsPromoteEnv', [from: 'stage', to: 'prod', apps: 'other-app', platform: true, skipEnv: true,
                                    dryRun: true, project: 'group/deploy', gitlabUrl: 'https://gitlab.internal.example'])
    assert first.shCalls*.script == second.shCalls*.script
    assert first.shCalls*.label == ['gitopsPromoteEnv: find gitops-helper', 'gitopsPromoteEnv: gitops-helper promote-env']
    List<String> values = ['stage', 'prod', 'other-app', 'group/deploy', 'gitlab.internal.example', FakeCli.TOKEN]
    (first.shCalls + second.shCalls).each { call ->
        values.each { value -> assert !call.script.contains(value) }
    }
}

cases.test('the token is bound only around the promote-env call, and never shown') {
    PipelineHarness h = FakeCli.harness('env-token')
    h.agentEnv.GITOPS_FAKE_UNITS = 'example-app=created,platform=blocked'
    def outcome = h.run('gitopsPromoteEnv', valid + [apps: '$GITLAB_TOKEN'])
    assert h.shCalls.findAll { it.env.containsKey('GITLAB_TOKEN') }*.label == ['gitopsPromoteEnv: gitops-helper promote-env']
    assert !h.environment().containsKey('GITLAB_TOKEN')
    assert FakeCli.received(h)[0].argv.contains('--apps=$GITLAB_TOKEN'): 'apps was expanded by a shell'
    FakeCli.assertNoToken(h, outcome.error, outcome.value)
}

cases.test('a credential that does not exist fails the build naming it') {
    PipelineHarness h = FakeCli.harness('env-no-credential')
    def outcome = h.run('gitopsPromoteEnv', valid + [credentialsId: 'gitlab-bot'])
    assert outcome.error.contains("'gitlab-bot'")
    assert FakeCli.received(h).isEmpty()
}

cases.test('the scripts are POSIX: the same run under /bin/sh') {
    PipelineHarness h = FakeCli.harness('env-posix-sh')
    h.shell = ['sh', '-c']
    def outcome = h.run('gitopsPromoteEnv', valid + [apps: 'example-app', platform: true, dryRun: true])
    assert outcome.error == null
    assert FakeCli.received(h)[0].argv == ['promote-env', '--json', '--from=dev', '--to=stage', '--apps=example-app',
                                           '--platform', '--dry-run']
}

cases.finish()
