// gitopsRevert: undo a merge into one environment of k8s-deployments, by a
// [no-promote] merge request holding its git revert. Help: vars/gitopsRevert.txt.
//
// Thin on purpose, like gitopsPromote: `gitops-helper revert` (Python, tested
// there) does the work; gitopsHelperCli checks the arguments, finds or installs the
// CLI, runs it with the values in environment variables and the token bound around
// that one command, and reports the merge request.
import com.cloudbees.groovy.cps.NonCPS
import groovy.transform.Field

// `gitops-helper revert`'s arguments from GITOPS_* variables (gitopsHelperCli runs
// them). `--opt=value` keeps a value starting with `-` a value.
@Field static final String REVERT_ARGUMENTS = '''set -- revert --json "--env=$GITOPS_ENV"
if [ -n "${GITOPS_COMMIT:-}" ]; then set -- "$@" "--commit=$GITOPS_COMMIT"; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsRevert.txt).
    Map defaults = [
        env          : null,               // String, required: the environment whose merge is undone
        commit       : null,               // String: the merge commit to undo, or 'last' (the CLI's default)
        dryRun       : false,              // boolean: plan and print, change nothing
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsRevert',
        command: 'revert',
        commandLine: REVERT_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['env'],
        example: "gitopsRevert(env: 'stage', commit: 'last')",
        variables: [env: 'GITOPS_ENV', commit: 'GITOPS_COMMIT', project: 'GITOPS_PROJECT',
                    gitlabUrl: 'GITOPS_GITLAB_URL', dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    if (run.exitCode != 0) {
        error(gitopsHelperCli.failureMessage('gitopsRevert', run.exitCode,
                                             "reverting ${settings.commit ?: 'the last merge'} in ${settings.env}",
                                             'Check env, commit and project.'))
    }
    Map result = run.result
    String summary = "${subject(settings, result)}: ${gitopsHelperCli.outcome(result, settings.dryRun)}"
    gitopsHelperCli.report('gitopsRevert', summary, result)
    List closed = closedOf(result)
    for (int i = 0; i < closed.size(); i++) {
        echo("gitopsRevert: closed !${closed[i]}: it carried the reverted change onwards")
    }
    return result
}

// "stage: revert 1a2b3c4d5e6f (!7)": the merge undone, as the CLI resolved it (`last`).
@NonCPS
String subject(Map settings, Map result) {
    String commit = result.commit ? result.commit.toString().take(12) : (settings.commit ?: 'last')
    String mr = result.reverted_mr != null ? " (!${result.reverted_mr})" : ''
    return "${result.env ?: settings.env}: revert ${commit}${mr}"
}

@NonCPS
List closedOf(Map result) {
    return result.closed instanceof List ? new ArrayList(result.closed) : []
}
