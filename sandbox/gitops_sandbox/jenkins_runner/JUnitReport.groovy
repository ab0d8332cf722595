import groovy.util.slurpersupport.GPathResult

import java.util.regex.Pattern

/**
 * What the JUnit plugin's `junit` step reads: the report files its `testResults` names
 * (comma-separated Ant patterns relative to the step's directory, Ant's default
 * excludes such as .git/ left out: Util.createFileSet, JUnitParser), parsed into the
 * shape of its remote API, hudson.tasks.junit.TestResult at `<build>/testReport/api/json`
 * (TestResult, SuiteResult and CaseResult's @Exported fields).
 *
 * A case is FAILED when it has a <failure> or an <error> (errorDetails: its message,
 * errorStackTrace: its text), SKIPPED with a <skipped>, else PASSED (CaseResult.getStatus).
 * The sandbox keeps no test history: a failure's `failedSince` is this build, its `age` 1.
 */
class JUnitReport {
    static final List<String> DEFAULT_EXCLUDES = ['.git', '.svn', '.hg', 'CVS', '.bzr']

    /** The files under `base` that the patterns match, in path order. */
    static List<File> find(File base, String patterns) {
        List<Pattern> wanted = patterns.split(',').collect { it.trim() }.findAll { it }.collect { regex(it) }
        List<File> found = []
        walk(base, '', wanted, found)
        return found.sort { it.path }
    }

    private static void walk(File dir, String prefix, List<Pattern> wanted, List<File> found) {
        dir.listFiles()?.each { File file ->
            String path = prefix + file.name
            if (file.isDirectory()) {
                if (!(file.name in DEFAULT_EXCLUDES)) {
                    walk(file, path + '/', wanted, found)
                }
            } else if (wanted.any { it.matcher(path).matches() }) {
                found << file
            }
        }
    }

    /** An Ant pattern as a regular expression: `**` any directories, `*` and `?` within one. */
    static Pattern regex(String pattern) {
        String ant = pattern.endsWith('/') ? pattern + '**' : pattern
        StringBuilder out = new StringBuilder()
        int i = 0
        while (i < ant.length()) {
            if (ant.startsWith('**/', i)) {
                out << '(?:[^/]*/)*'
                i += 3
            } else if (ant.startsWith('**', i)) {
                out << '.*'
                i += 2
            } else {
                char c = ant.charAt(i)
                out << (c == '*' as char ? '[^/]*' : (c == '?' as char ? '[^/]' : Pattern.quote(c.toString())))
                i += 1
            }
        }
        return Pattern.compile(out.toString())
    }

    /** The suites of the files, each as SuiteResult's JSON. */
    static List<Map> suites(List<File> files, List<String> enclosingBlockNames, int buildNumber) {
        List<Map> found = []
        files.each { File file ->
            XmlSlurper slurper = new XmlSlurper(false, false)
            slurper.setFeature('http://apache.org/xml/features/nonvalidating/load-external-dtd', false)
            GPathResult root = slurper.parse(file)
            collect(root, found, enclosingBlockNames, buildNumber)
        }
        return found
    }

    private static void collect(GPathResult element, List<Map> found, List<String> blocks, int number) {
        if (element.name() == 'testsuites') {
            element.testsuite.each { collect(it as GPathResult, found, blocks, number) }
        } else if (element.name() == 'testsuite') {
            found << suite(element, blocks, number)
            element.testsuite.each { collect(it as GPathResult, found, blocks, number) }  // nested suites
        }
    }

    private static Map suite(GPathResult suite, List<String> blocks, int number) {
        String name = text(suite.@name)
        List<Map> cases = suite.testcase.collect { GPathResult c ->
            GPathResult failure = c.failure.size() ? c.failure[0] as GPathResult :
                                  (c.error.size() ? c.error[0] as GPathResult : null)
            boolean skipped = c.skipped.size() > 0
            String status = skipped ? 'SKIPPED' : (failure != null ? 'FAILED' : 'PASSED')
            boolean failed = status == 'FAILED'
            return [
                _class         : 'hudson.tasks.junit.CaseResult',
                testActions    : [],
                age            : failed ? 1 : 0,
                className      : text(c.@classname) ?: name,
                duration       : seconds(text(c.@time)),
                errorDetails   : failure != null ? text(failure.@message) : null,
                errorStackTrace: failure != null ? failure.text() : null,
                failedSince    : failed ? number : 0,
                name           : text(c.@name),
                properties     : [:],
                skipped        : skipped,
                skippedMessage : skipped ? text((c.skipped[0] as GPathResult).@message) : null,
                status         : status,
                stderr         : text(c.'system-err'),
                stdout         : text(c.'system-out'),
            ]
        }
        return [
            _class             : 'hudson.tasks.junit.SuiteResult',
            cases              : cases,
            duration           : seconds(text(suite.@time)),
            enclosingBlockNames: blocks,
            enclosingBlocks    : [],
            id                 : text(suite.@id),
            name               : name,
            nodeId             : null,
            properties         : [:],
            stderr             : text(suite.'system-err'),
            stdout             : text(suite.'system-out'),
            timestamp          : text(suite.@timestamp),
        ]
    }

    /** TestResult's JSON for these suites, with its counts. */
    static Map result(List<Map> suites) {
        List<Map> cases = suites.collectMany { it.cases as List<Map> }
        return [
            _class     : 'hudson.tasks.junit.TestResult',
            testActions: [],
            duration   : (suites.sum { it.duration as float } ?: 0f) as float,
            empty      : cases.isEmpty(),
            failCount  : cases.count { it.status == 'FAILED' },
            passCount  : cases.count { it.status == 'PASSED' },
            skipCount  : cases.count { it.status == 'SKIPPED' },
            suites     : suites,
        ]
    }

    private static String text(Object node) {
        String value = node.toString()
        return value ? value : null
    }

    // JUnitParser's parseTime: "1,234.5" is 1234.5; anything else unreadable is 0.
    private static float seconds(String value) {
        try {
            return value ? Float.parseFloat(value.replace(',', '')) : 0f
        } catch (NumberFormatException ignored) {
            return 0f
        }
    }
}
