import hudson.AbortException

/**
 * A step's argument checks, seen from a test: run the step with arguments it must
 * refuse and get its error, after checking that the build failed with the step's
 * name first and that no shell ran before the refusal.
 */
class Rejected {
    /** The marker for "call the step with no arguments at all": `step()`. */
    static final Object NO_ARGUMENTS = new Object()

    static String message(String step, Object config, String workspace = 'arguments') {
        PipelineHarness h = PipelineHarness.forTest(workspace)
        Script script = h.load(step)
        String message = null
        try {
            Object[] args = config.is(NO_ARGUMENTS) ? [] as Object[] : [config] as Object[]
            script.invokeMethod('call', args)
        } catch (AbortException e) {
            message = e.message
        }
        assert message != null: 'the step did not fail'
        assert message.startsWith("${step}: ")
        assert h.shCalls.isEmpty(): "a shell ran before the arguments were checked: ${h.shCalls*.script}"
        return message
    }

    /** A value with a control character is refused naming the argument, and nothing forged reaches the log. */
    static void controlCharacterRefused(String step, Map valid, String key) {
        String forged = "1.0.1\r\n${step}: example-app 9.9.9 -> prod: !99 created"
        PipelineHarness h = PipelineHarness.forTest("control-${key}")
        def outcome = h.run(step, valid + [(key): forged])
        assert outcome.error.contains("argument '${key}' contains a control character")
        assert outcome.error.contains("1.0.1\\u000d\\u000a${step}: example-app 9.9.9")
        assert !outcome.error.contains('\n') && !outcome.error.contains('\r')
        assert h.shCalls.isEmpty()
        assert !h.log.readLines().any { it.startsWith("${step}: example-app 9.9.9") }
    }

    /** Outside node { } (no workspace) the step says so, and runs nothing. */
    static void noWorkspaceRefused(String step, Map valid) {
        PipelineHarness h = PipelineHarness.forTest('no-node')
        h.agentEnv.remove('WORKSPACE')
        def outcome = h.run(step, valid)
        assert outcome.error == "${step}: no workspace: call it inside node { } or a stage with an agent"
        assert h.shCalls.isEmpty()
    }
}
