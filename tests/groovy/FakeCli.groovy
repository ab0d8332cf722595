import groovy.json.JsonSlurper

/**
 * The set-up of the step tests that run the fake CLI (tests/helpers/fake_gitops_helper.py,
 * first on the agent's PATH): a harness with the GitLab credential and URL, whose fake
 * records each call (argv and the GITOPS_* / GITLAB_* environment) in its own file.
 */
class FakeCli {
    static final String TOKEN = 'glpat-7Hq2xKv9LmT4pRw8ZsYb'

    static PipelineHarness harness(String name) {
        PipelineHarness h = PipelineHarness.forTest(name)
        h.credentials['gitlab-api-token'] = TOKEN
        h.agentEnv.GITLAB_URL = 'https://gitlab.example.com'
        File record = new File(h.workspace.parentFile, "${name}.jsonl")
        record.delete()
        h.agentEnv.GITOPS_FAKE_RECORD = record.path
        return h
    }

    /** What the fake CLI received, one map (argv, env) per call. */
    static List<Map> received(PipelineHarness h) {
        File record = new File(h.agentEnv.GITOPS_FAKE_RECORD)
        return record.exists() ? record.readLines().collect { (Map) new JsonSlurper().parseText(it) } : []
    }

    /** The token is nowhere a user could see it: the log, the description, nor `more`. */
    static void assertNoToken(PipelineHarness h, Object... more) {
        assert !h.log.contains(TOKEN)
        assert !String.valueOf(h.currentBuild.description).contains(TOKEN)
        more.each { assert !String.valueOf(it).contains(TOKEN) }
    }
}
