// Without gitops-helper on the agent's PATH, gitopsPromote installs the version
// pinned in resources/jenkins-gitops-helpers/requirements.txt into a venv in the
// workspace's tmp dir, from the index in PIP_INDEX_URL (here: a local PEP 503
// index holding the fake CLI, as an air-gapped mirror would), and reuses it.
Cases cases = new Cases()

final String INDEX = PipelineHarness.testSetting('GROOVY_TEST_INDEX')
final String PINNED = PipelineHarness.testSetting('GROOVY_TEST_PINNED')
final String OLDER = PipelineHarness.testSetting('GROOVY_TEST_OLDER')
final Map valid = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1']

Closure<PipelineHarness> harness = { String name ->
    PipelineHarness h = PipelineHarness.forTest(name)
    h.credentials['gitlab-api-token'] = 'glpat-7Hq2xKv9LmT4pRw8ZsYb'
    h.agentEnv.GITLAB_URL = 'https://gitlab.example.com'
    h.agentEnv.PIP_INDEX_URL = INDEX
    h.agentEnv.PIP_CONFIG_FILE = '/dev/null'  // hermetic: not this machine's pip.conf
    return h
}
// The version the venv's python sees installed.
Closure<String> installedIn = { PipelineHarness h, File venv ->
    return h.sh(script: '"$VENV/bin/python" -c \'import importlib.metadata as m; print(m.version("jenkins-gitops-helpers"))\'',
                returnStdout: true).trim()
}

cases.test('installs the pinned version into WORKSPACE@tmp, from PIP_INDEX_URL, and uses it') {
    PipelineHarness h = harness('install')
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error == null: h.log
    File venv = new File("${h.workspace.path}@tmp/gitops-helper-venv")
    assert new File(venv, 'bin/gitops-helper').canExecute()
    assert h.log.contains("gitopsPromote: installing jenkins-gitops-helpers==${PINNED} into ${venv.path}")
    assert h.log.contains('gitopsPromote: pip uses the package index in PIP_INDEX_URL')
    assert !h.log.contains(INDEX): 'the index URL (it may hold credentials) was printed'
    assert new File("${h.workspace.path}@tmp/gitops-helper-requirements.txt").text ==
           new File(h.libraryRoot, 'resources/jenkins-gitops-helpers/requirements.txt').text
    assert h.shCalls.last().env.GITOPS_HELPER == new File(venv, 'bin/gitops-helper').path
    assert outcome.value.status == 'created'
    assert !h.shCalls.find { it.label == 'gitopsPromote: install gitops-helper' }.env.containsKey('GITLAB_TOKEN')
}

cases.test('the next build reuses the venv when it has the pinned version') {
    PipelineHarness h = harness('install')
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error == null: h.log
    assert h.log.contains("gitopsPromote: reusing gitops-helper ${PINNED} in ${h.workspace.path}@tmp/gitops-helper-venv")
    assert !h.log.contains('installing')
}

cases.test('a venv with another version is brought to the pinned one; WORKSPACE_TMP is honoured') {
    PipelineHarness h = harness('upgrade')
    File tmp = new File(h.workspace.parentFile, 'upgrade-tmp')
    h.agentEnv.WORKSPACE_TMP = tmp.path
    File venv = new File(tmp, 'gitops-helper-venv')
    h.withEnv(["VENV=${venv.path}", "OLDER=${OLDER}"]) {
        h.sh('python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet "jenkins-gitops-helpers==$OLDER"')
        assert installedIn(h, venv) == OLDER
    }
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error == null: h.log
    assert h.log.contains("gitopsPromote: installing jenkins-gitops-helpers==${PINNED} into ${venv.path}")
    h.withEnv(["VENV=${venv.path}"]) {
        assert installedIn(h, venv) == PINNED
    }
    assert !new File("${h.workspace.path}@tmp/gitops-helper-venv").exists()
}

cases.test('an index without the package fails the step saying what to do') {
    PipelineHarness h = harness('no-package')
    File empty = new File(h.workspace.parentFile, 'empty-index')
    empty.mkdirs()
    new File(empty, 'index.html').text = '<!DOCTYPE html><html><body></body></html>\n'
    h.agentEnv.PIP_INDEX_URL = empty.toURI().toString()
    def outcome = h.run('gitopsPromote', valid)
    assert outcome.error.startsWith("gitopsPromote: could not install jenkins-gitops-helpers==${PINNED} into ")
    assert outcome.error.contains('PIP_INDEX_URL')
}

cases.finish()
