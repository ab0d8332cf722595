// gitopsPromote with the fake CLI (tests/helpers/fake_gitops_helper.py) first on the PATH:
// how values reach the CLI, what the step returns and prints, how it fails.
Cases cases = new Cases()

final String TOKEN = FakeCli.TOKEN
final String DIGEST = 'sha256:' + 'ab' * 32
final Map valid = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1']

Closure<PipelineHarness> harness = { String name -> FakeCli.harness(name) }
Closure<List<Map>> received = { PipelineHarness h -> FakeCli.received(h) }
Closure<Void> assertNoToken = { PipelineHarness h, Object... more -> FakeCli.assertNoToken(h, *more) }

cases.test('every argument reaches the CLI through GITOPS_* variables, as flags') {
    PipelineHarness h = harness('all-arguments')
    def outcome = h.run('gitopsPromote', valid + [digest: DIGEST, env: 'stage', project: 'platform/deployments',
                                                appRepoDir: 'app', gitlabUrl: 'https://gitlab.internal.example'])
    assert outcome.error == null
    List<Map> calls = received(h)
    assert calls.size() == 1
    assert calls[0].argv == ['promote', '--json', '--app=example-app', '--image=registry.example.com/example-app',
                             '--tag=1.0.1', '--app-repo=app', "--digest=${DIGEST}".toString(), '--env=stage',
                             '--project=platform/deployments', '--gitlab-url=https://gitlab.internal.example']
    Map env = calls[0].env
    assert env.GITOPS_APP == 'example-app'
    assert env.GITOPS_IMAGE == 'registry.example.com/example-app'
    assert env.GITOPS_TAG == '1.0.1'
    assert env.GITOPS_DIGEST == DIGEST
    assert env.GITOPS_ENV == 'stage'
    assert env.GITOPS_PROJECT == 'platform/deployments'
    assert env.GITOPS_APP_REPO == 'app'
    assert env.GITOPS_GITLAB_URL == 'https://gitlab.internal.example'
    assert env.GITOPS_DRY_RUN == 'false'
    assert env.GITLAB_TOKEN == TOKEN
}

cases.test('left-out optional arguments are not passed; the agent\'s GITLAB_URL is used') {
    PipelineHarness h = harness('minimal')
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error == null
    Map call = received(h)[0]
    assert call.argv == ['promote', '--json', '--app=example-app', '--image=registry.example.com/example-app',
                         '--tag=1.0.1', '--app-repo=.']
    assert call.env.GITLAB_URL == 'https://gitlab.example.com'
    assert !call.env.containsKey('GITOPS_DIGEST')
    assert outcome.value.mr_url.startsWith('https://gitlab.example.com/')
}

cases.test('dryRun: true passes --dry-run') {
    PipelineHarness h = harness('dry-run')
    def outcome = h.run('gitopsPromote', valid + [dryRun: true])
    assert received(h)[0].argv.last() == '--dry-run'
    assert h.currentBuild.description == 'example-app 1.0.1 -> dev: created (dry run)'
}

cases.test('GString values work like Strings') {
    PipelineHarness h = harness('gstring')
    String minor = '0'
    def outcome = h.run('gitopsPromote', [app: "example-${'app'}", image: valid.image, tag: "1.${minor}.1"])
    assert outcome.error == null
    assert received(h)[0].env.GITOPS_TAG == '1.0.1'
}

cases.test('returns the CLI\'s JSON as a plain, serializable map') {
    PipelineHarness h = harness('result')
    Map result = h.run('gitopsPromote', valid).value
    assert result == [app: 'example-app', branch: 'promote/dev/example-app',
                      changes: [[path: 'env.cue', status: 'modified', added: 1, removed: 1]],
                      digest: null, dry_run: false, env: 'dev', warnings: [],
                      mr_iid: 12, mr_url: 'https://gitlab.example.com/platform/k8s-deployments/-/merge_requests/12',
                      project: 'platform/k8s-deployments', status: 'created', tag: '1.0.1']
    assert result.getClass() == LinkedHashMap
    assert result.changes.getClass() == ArrayList
    assert result.changes[0].getClass() == LinkedHashMap
    PipelineHarness.assertSerializable(result)
}

cases.test('sets the build description and echoes one summary line with the MR URL') {
    PipelineHarness h = harness('summary')
    h.run('gitopsPromote', valid)
    assert h.currentBuild.description == 'example-app 1.0.1 -> dev: !12 created'
    assert h.log.readLines().contains('gitopsPromote: example-app 1.0.1 -> dev: !12 created ' +
                                      'https://gitlab.example.com/platform/k8s-deployments/-/merge_requests/12')
}

cases.test('adds to a description set earlier in the build') {
    PipelineHarness h = harness('description')
    h.currentBuild.description = 'image 1.0.1'
    h.run('gitopsPromote', valid)
    assert h.currentBuild.description == 'image 1.0.1; example-app 1.0.1 -> dev: !12 created'
}

cases.test('an update and a no-op read as such') {
    PipelineHarness h = harness('statuses')
    h.agentEnv.GITOPS_FAKE_STATUS = 'updated'
    h.run('gitopsPromote', valid)
    assert h.currentBuild.description == 'example-app 1.0.1 -> dev: !12 updated'
    h.currentBuild.description = null
    h.agentEnv.GITOPS_FAKE_STATUS = 'noop'
    Map result = h.run('gitopsPromote', valid).value
    assert result.status == 'noop' && result.mr_iid == null
    assert h.currentBuild.description == 'example-app 1.0.1 -> dev: noop, already there'
    assert h.log.readLines().contains('gitopsPromote: example-app 1.0.1 -> dev: noop, already there')
}

cases.test('the shell scripts are constants: no argument value is ever part of a script') {
    PipelineHarness first = harness('constant-1')
    first.run('gitopsPromote', valid)
    PipelineHarness second = harness('constant-2')
    second.run('gitopsPromote', [app: 'other-app', image: 'registry.example.com/other', tag: '9.9.9', digest: DIGEST,
                                 env: 'prod', project: 'group/deploy', appRepoDir: 'sub', dryRun: true,
                                 gitlabUrl: 'https://gitlab.internal.example'])
    assert first.shCalls*.script == second.shCalls*.script
    List<String> values = ['example-app', 'other-app', 'registry.example.com', '1.0.1', '9.9.9', 'ab' * 32, 'prod',
                           'group/deploy', 'gitlab.internal.example', 'gitlab.example.com', TOKEN]
    (first.shCalls + second.shCalls).each { call ->
        values.each { value -> assert !call.script.contains(value) }
    }
}

cases.test('a gitops-helper on the PATH is used: nothing is installed') {
    PipelineHarness h = harness('on-path')
    h.run('gitopsPromote', valid)
    assert h.shCalls*.label == ['gitopsPromote: find gitops-helper', 'gitopsPromote: gitops-helper promote']
    assert h.shCalls[1].env.GITOPS_HELPER.endsWith('/gitops-helper')
    assert !h.log.contains('installing')
}

cases.test('the token is bound only around the promote call') {
    PipelineHarness h = harness('token-scope')
    h.run('gitopsPromote', valid)
    assert h.shCalls.findAll { it.env.containsKey('GITLAB_TOKEN') }*.label == ['gitopsPromote: gitops-helper promote']
    assert !h.environment().containsKey('GITLAB_TOKEN')
}

cases.test('bad input (CLI exit 2) fails the step with a clear error, the CLI\'s error in the log') {
    PipelineHarness h = harness('exit-2')
    h.agentEnv.GITOPS_FAKE_BAD_INPUT = "invalid tag 'not a tag'"
    def outcome = h.run('gitopsPromote', valid + [tag: 'not a tag'])
    assert outcome.error.contains('gitops-helper rejected the input for promoting example-app not a tag (exit 2, bad input)')
    assert h.log.contains("error: invalid tag 'not a tag'")
    assert h.currentBuild.description == null
}

cases.test('a failed promotion (CLI exit 1) fails the step with a clear error') {
    PipelineHarness h = harness('exit-1')
    h.agentEnv.GITOPS_FAKE_FAIL = '1'
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error == 'gitopsPromote: promoting example-app 1.0.1 failed (gitops-helper exit 1); ' +
                            'its error: and hint: lines are above.'
    assert h.log.contains('error: GitLab refused the push')
}

cases.test('output that is not JSON fails the step, quoting it') {
    PipelineHarness h = harness('garbage')
    h.agentEnv.GITOPS_FAKE_GARBAGE = '1'
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error.contains('printed no JSON object: Traceback (most recent call last): not JSON')
}

cases.test('a credential that does not exist fails the build naming it') {
    PipelineHarness h = harness('no-credential')
    def outcome = h.run('gitopsPromote', valid + [credentialsId: 'gitlab-bot'])
    assert outcome.error.contains("'gitlab-bot'")
    assert received(h).isEmpty()
}

cases.test('the token never appears in the build log, errors, description or result') {
    PipelineHarness ok = harness('no-leak-ok')
    def success = ok.run('gitopsPromote', valid + [digest: DIGEST, dryRun: true])
    assert success.error == null
    assertNoToken(ok, success.value)

    PipelineHarness failed = harness('no-leak-fail')
    failed.agentEnv.GITOPS_FAKE_FAIL = '1'
    def failure = failed.run('gitopsPromote', valid)
    assert failure.error
    assertNoToken(failed, failure.error)

    PipelineHarness bad = harness('no-leak-bad')
    bad.agentEnv.GITOPS_FAKE_BAD_INPUT = 'invalid image tag'
    def rejected = bad.run('gitopsPromote', valid + [tag: '$GITLAB_TOKEN'])
    assert rejected.error
    assertNoToken(bad, rejected.error)
    assert received(bad)[0].argv.contains('--tag=$GITLAB_TOKEN'): 'the tag was expanded by a shell'
}

cases.test('the scripts are POSIX: the same run under /bin/sh') {
    PipelineHarness h = harness('posix-sh')
    h.shell = ['sh', '-c']
    def outcome = h.run('gitopsPromote', valid + [digest: DIGEST, env: 'stage', dryRun: true])
    assert outcome.error == null
    assert received(h)[0].argv.containsAll(["--digest=${DIGEST}".toString(), '--env=stage', '--dry-run'])
}

cases.finish()
