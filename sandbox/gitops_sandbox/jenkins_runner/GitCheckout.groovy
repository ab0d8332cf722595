import hudson.AbortException

/**
 * `checkout scm` as the Git plugin does it: fetch the job's repository over HTTP into
 * the workspace (a new clone, or a fetch into the one a previous build left), then
 * check out the exact commit the build was started for, detached. The job's
 * `credentialsId` must name a *Username with password* credential, sent as HTTP basic
 * auth (GitLab takes a token as the password). The Git plugin looks it up as a
 * StandardUsernameCredentials (GitSCM.lookupScanCredentials): any other kind, a Secret
 * text one included, is "not found", `Warning: CredentialId "x" could not be found.`,
 * and git goes on without credentials (a private repository then refuses it). Sets
 * GIT_COMMIT, GIT_BRANCH and GIT_URL in the build's environment and returns them, as
 * the step does.
 */
class GitCheckout {
    private final BuildRun run
    private final Map scm

    GitCheckout(BuildRun run, Map scm) {
        this.run = run
        this.scm = scm
    }

    Map run(File dir) {
        Map<String, String> env = run.environment()
        env.GIT_TERMINAL_PROMPT = '0'
        run.log('The recommended git tool is: NONE')
        String id = scm.credentialsId as String
        if (!id) {
            run.log('No credentials specified')
        } else if (run.usernamePasswords.containsKey(id)) {
            List<String> pair = run.usernamePassword(id)
            String basic = "${pair[0]}:${pair[1]}".getBytes('UTF-8').encodeBase64().toString()
            env.putAll(GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader',
                       GIT_CONFIG_VALUE_0: "Authorization: Basic ${basic}".toString())
            run.log("using credential ${id}")
        } else {
            run.log("Warning: CredentialId \"${id}\" could not be found.")
        }
        String url = scm.url
        if (new File(dir, '.git').isDirectory()) {
            run.log('Fetching changes from the remote Git repository')
        } else {
            run.log('Cloning the remote Git repository')
            run.log("Cloning repository ${url}")
            git(dir, env, 'init', dir.path)
        }
        git(dir, env, 'config', 'remote.origin.url', url)
        git(dir, env, 'config', 'remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*')
        run.log("Fetching upstream changes from ${url}")
        git(dir, env, 'fetch', '--tags', '--force', '--progress', '--', url, '+refs/heads/*:refs/remotes/origin/*')
        String commit = scm.commit
        run.log("Checking out Revision ${commit} (refs/remotes/origin/${scm.branch})")
        git(dir, env, 'config', 'core.sparsecheckout')
        git(dir, env, 'checkout', '-f', commit)
        run.log("Commit message: \"${git(dir, env, 'log', '-1', '--format=%s', commit).trim()}\"")
        Map<String, String> found = [GIT_COMMIT: commit, GIT_BRANCH: "origin/${scm.branch}".toString(), GIT_URL: url]
        run.agentEnv.putAll(found)
        return found
    }

    /** One git command, logged as the Git plugin logs it (` > git ...`); fails the build on error. */
    private String git(File dir, Map<String, String> env, String... args) {
        List<String> command = ['git'] + (args as List<String>)
        run.log(" > ${command.join(' ')} # timeout=10")
        ProcessBuilder builder = new ProcessBuilder(command)
        builder.directory(dir)
        builder.environment().clear()
        builder.environment().putAll(env)
        Process process = builder.start()
        process.outputStream.close()
        StringBuilder out = new StringBuilder()
        StringBuilder err = new StringBuilder()
        Thread outReader = process.consumeProcessOutputStream(out)
        Thread errReader = process.consumeProcessErrorStream(err)
        int code
        try {
            code = run.await(process, 600, "git ${args[0]}")
        } finally {
            outReader.join()
            errReader.join()
        }
        // `git config key` exits 1 for an unset key: that is an answer, not a failure.
        if (code != 0 && !(args[0] == 'config' && args.length == 2 && code == 1)) {
            run.log("ERROR: Error fetching remote repo 'origin'")
            throw new AbortException("Command \"${command.join(' ')}\" returned status code ${code}:\n" +
                                     "stdout: ${out}\nstderr: ${err}")
        }
        return out.toString()
    }
}
