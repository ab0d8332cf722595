// One build of the sandbox's Jenkins: `groovy -cp <runner>:<stubs> RunBuild.groovy`.
// Reads the build (JSON, one line) from stdin, never from the command line or a file,
// because it holds the credentials; then, while the build runs, commands on the lines
// that follow: {"interrupt": {"result": "ABORTED", "cause": "Aborted by admin"}} (Stop,
// a newer build). Streams the console to stdout; writes the outcome (result,
// description, display name, declared parameters, job properties, test counts) to the
// spec's resultFile.
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

BufferedReader input = new BufferedReader(new InputStreamReader(System.in, 'UTF-8'))
Map spec = (Map) new JsonSlurperClassic().parseText(input.readLine())
PrintStream console = new PrintStream(new FileOutputStream(FileDescriptor.out), true, 'UTF-8')
BuildRun run = new BuildRun(spec, console)
Thread commands = new Thread({
    String line
    while ((line = input.readLine()) != null) {
        Map command = (Map) new JsonSlurperClassic().parseText(line)
        if (command.interrupt) {
            run.interrupt(command.interrupt.result as String, command.interrupt.cause as String)
        }
    }
} as Runnable, 'sandbox-commands')
commands.daemon = true
commands.start()
String result = run.execute()
Map tests = run.testReport
new File(spec.resultFile as String).setText(JsonOutput.toJson([
    result       : result,
    description  : run.currentBuild.description,
    displayName  : run.currentBuild.displayName,
    parameters   : run.declaredParameters,
    jobProperties: run.jobProperties,
    tests        : tests == null ? null : [failCount : tests.failCount, skipCount: tests.skipCount,
                                           totalCount: tests.failCount + tests.skipCount + tests.passCount],
]), 'UTF-8')
console.flush()
System.exit(0)
