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

    /**
     * The characters an argument must not hold (gitopsHelperCli's isUnsafe): each one
     * Python's str.splitlines() starts a new line at (a log viewer, a browser or a
     * terminal may too), other C0 and C1 controls, and every bidi control.
     */
    static final List<String> UNSAFE = [
        '\n', '\r', '\u000b', '\u000c', '\u001c', '\u001d', '\u001e', '\u0085', '\u2028', '\u2029',
        '\t', '\u0000', '\u001b', '\u007f', '\u009b',
        '\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e',
        '\u2066', '\u2067', '\u2068', '\u2069'
    ].asImmutable()

    /** How messages (and test names) show a character: `\u2028`. */
    static String escaped(String character) {
        return character.collect { String.format('\\u%04x', (int) (it as char)) }.join('')
    }

    /**
     * A value with a control character, a line separator or a bidi control is refused
     * naming the argument, the character escaped, and nothing of it reaches the log.
     */
    static void controlCharacterRefused(String step, Map valid, String key, String character = '\r\n') {
        String forged = "1.0.1${character}${step}: example-app 9.9.9 -> prod: !99 created"
        PipelineHarness h = PipelineHarness.forTest("control-${key}")
        def outcome = h.run(step, valid + [(key): forged])
        assert outcome.error.contains("argument '${key}' contains a control character")
        assert outcome.error.contains("1.0.1${escaped(character)}${step}: example-app 9.9.9")
        assert !UNSAFE.any { outcome.error.contains(it) }: 'the message holds the character itself'
        assert h.shCalls.isEmpty()
        assert !(UNSAFE - ['\n']).any { h.log.contains(it) }: 'the character reached the build log'
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
