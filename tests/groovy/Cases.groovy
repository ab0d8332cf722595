/**
 * A tiny test runner for the Groovy test scripts: one line per case ("ok - name" or
 * "not ok - name" with the failure indented), a closing "N passed, N failed" line,
 * and exit status 1 when any case failed. pytest (tests/test_groovy_vars.py) runs
 * each script and reads both.
 */
class Cases {
    private static final List<String> NOISE = ['org.codehaus.groovy.', 'sun.reflect', 'java.lang.reflect', 'jdk.internal.reflect', 'groovy.lang.']
    private int passed = 0
    private int failed = 0
    private final Set<String> only

    /** `GROOVY_TEST_ONLY=name,name` runs only those cases (for debugging one). */
    Cases() {
        String names = System.getenv('GROOVY_TEST_ONLY')
        only = names ? (names.split(',') as Set<String>) : null
    }

    void test(String name, Closure body) {
        if (only != null && !only.contains(name)) {
            return
        }
        try {
            body.call()
            passed++
            println "ok - ${name}"
        } catch (Throwable t) {
            failed++
            println "not ok - ${name}"
            StringWriter trace = new StringWriter()
            t.printStackTrace(new PrintWriter(trace))
            trace.toString().readLines().findAll { line -> !NOISE.any { line.contains(it) } }
                .take(40).each { println "    ${it}" }
        }
    }

    void finish() {
        println "${passed} passed, ${failed} failed"
        System.out.flush()
        System.exit(failed ? 1 : 0)
    }
}
