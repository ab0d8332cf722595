// Shell injection through any argument stays inert: the value reaches the CLI
// verbatim, and no command in it runs. (The real CLI rejects what is not valid.)
import groovy.json.JsonSlurper

Cases cases = new Cases()

final Map valid = [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1']

// Each payload tries to create a file named `marker`, in the workspace or wherever the shell is.
final Map<String, String> payloads = [
    tag       : '1.0.0$(touch marker)',
    app       : 'example-app"; touch marker; echo "',
    image     : 'registry.example.com/example-app`touch marker`',
    digest    : 'sha256:$(touch marker)',
    env       : "dev'; touch marker; '",
    project   : 'platform/k8s-deployments;touch marker',
    appRepoDir: '$(touch marker)',
    gitlabUrl : 'https://gitlab.example.com/$(touch${IFS}marker)',
]

payloads.each { String key, String payload ->
    cases.test("${key}: ${payload}") {
        PipelineHarness h = PipelineHarness.forTest("inject-${key}")
        h.credentials['gitlab-api-token'] = 'glpat-7Hq2xKv9LmT4pRw8ZsYb'
        h.agentEnv.GITLAB_URL = 'https://gitlab.example.com'
        File record = new File(h.workspace.parentFile, "inject-${key}.jsonl")
        record.delete()
        h.agentEnv.GITOPS_FAKE_RECORD = record.path
        h.run('gitopsPromote', valid + [(key): payload])

        List<File> markers = []
        [h.workspace, h.workspace.parentFile, new File(System.getProperty('user.dir'))].each { dir ->
            dir.eachFileRecurse { if (it.name == 'marker') markers << it }
        }
        assert markers.isEmpty(): "a payload ran: ${markers.unique()}"
        List<String> argv = new JsonSlurper().parseText(record.readLines()[0]).argv
        assert argv.any { it.endsWith(payload) }: "the value did not reach the CLI verbatim: ${argv}"
        // Whether the CLI then refuses the value is its own test (tests/test_inputs.py).
    }
}

cases.finish()
