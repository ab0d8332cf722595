// The harness itself behaves like Jenkins where the step tests rely on it.
import hudson.AbortException

Cases cases = new Cases()

cases.test('sh really runs bash, returns stdout, logs stderr and traces like sh -xe') {
    PipelineHarness h = PipelineHarness.forTest('harness-sh')
    String out = h.sh(script: 'echo "$BASH_VERSION" | cut -c1; echo to-log >&2', returnStdout: true)
    assert out ==~ /\d\n/
    assert h.log.contains('to-log')
    assert h.log.contains('+ echo to-log')
}

cases.test('sh fails like Jenkins on a non-zero exit, unless returnStatus') {
    PipelineHarness h = PipelineHarness.forTest('harness-status')
    try {
        h.sh('exit 3')
        assert false: 'sh did not fail'
    } catch (AbortException e) {
        assert e.message == 'script returned exit code 3'
    }
    assert h.sh(script: 'exit 4', returnStatus: true) == 4
}

cases.test('withEnv scopes, unsets on empty and prepends PATH+X; withCredentials binds secrets') {
    PipelineHarness h = PipelineHarness.forTest('harness-env')
    h.agentEnv.KEEP = 'agent'
    h.credentials['cred'] = 's3cret'
    h.withEnv(['A=1', 'KEEP=', 'PATH+EXTRA=/opt/extra/bin']) {
        h.withCredentials([h.string(credentialsId: 'cred', variable: 'TOKEN')]) {
            String out = h.sh(script: 'echo "$A ${KEEP:-unset} $TOKEN ${PATH%%:*}"', returnStdout: true)
            assert out == '1 unset s3cret /opt/extra/bin\n'
        }
        assert !h.environment().containsKey('TOKEN')
    }
    assert h.environment().KEEP == 'agent'
    assert !h.environment().containsKey('A')
    try {
        h.withCredentials([h.string(credentialsId: 'nope', variable: 'X')]) {}
        assert false: 'missing credential accepted'
    } catch (AbortException e) {
        assert e.message.contains("'nope'")
    }
}

cases.test('a loaded step sees env, currentBuild and the steps') {
    PipelineHarness h = PipelineHarness.forTest('harness-load')
    File lib = new File(h.workspace, 'lib')
    new File(lib, 'vars').mkdirs()
    new File(lib, 'resources/x').mkdirs()
    new File(lib, 'resources/x/r.txt').text = 'resource'
    new File(lib, 'vars/probe.groovy').text = '''
        def call(Map config = [:]) {
            writeFile(file: 'sub/f.txt', text: libraryResource('x/r.txt'))
            currentBuild.description = "ws=${env.WORKSPACE == pwdForTest ? 'ok' : env.WORKSPACE}"
            echo "exists=${fileExists('sub/f.txt')}"
            error('stop here')
        }
    '''
    PipelineHarness probe = new PipelineHarness(lib, h.workspace, h.agentEnv)
    Script step = probe.load('probe')
    step.binding.setVariable('pwdForTest', h.workspace.path)
    try {
        step.invokeMethod('call', [[:]] as Object[])
        assert false: 'error did not throw'
    } catch (AbortException e) {
        assert e.message == 'stop here'
    }
    assert new File(h.workspace, 'sub/f.txt').text == 'resource'
    assert probe.currentBuild.description == 'ws=ok'
    assert probe.log.contains('exists=true')
}

cases.test('a step calls another library step, and that step\'s other methods, as in Jenkins') {
    PipelineHarness h = PipelineHarness.forTest('harness-library-methods')
    File lib = new File(h.workspace, 'lib')
    new File(lib, 'vars').mkdirs()
    new File(lib, 'vars/helper.groovy').text = '''
        def call(Map config) { return "call ${config.x}" }
        String shout(String text) { return text.toUpperCase() }
        String run(String text) { return "helper's run: ${text}" }
    '''
    new File(lib, 'vars/user.groovy').text = '''
        def call(Map config = [:]) { return [helper(x: 1), helper.shout('hi'), helper.run('y')] }
    '''
    PipelineHarness probe = new PipelineHarness(lib, h.workspace, h.agentEnv)
    // `run` is also a harness method: the step's own wins.
    assert probe.run('user', [:]).value == ['call 1', 'HI', "helper's run: y"]
}

cases.finish()
