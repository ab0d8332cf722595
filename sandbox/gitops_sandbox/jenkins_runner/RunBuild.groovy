// One build of the sandbox's Jenkins: `groovy -cp <runner>:<stubs> RunBuild.groovy`.
// Reads the build (JSON) from stdin, never from the command line or a file, because
// it holds the credentials; streams the console to stdout; writes the outcome
// (result, description, display name, declared parameters) to the spec's resultFile.
import groovy.json.JsonOutput
import groovy.json.JsonSlurperClassic

Map spec = (Map) new JsonSlurperClassic().parse(new InputStreamReader(System.in, 'UTF-8'))
PrintStream console = new PrintStream(new FileOutputStream(FileDescriptor.out), true, 'UTF-8')
BuildRun run = new BuildRun(spec, console)
String result = run.execute()
new File(spec.resultFile as String).setText(JsonOutput.toJson([
    result     : result,
    description: run.currentBuild.description,
    displayName: run.currentBuild.displayName,
    parameters : run.declaredParameters,
]), 'UTF-8')
console.flush()
System.exit(0)
