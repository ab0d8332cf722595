// gitopsDecommission: start (or resume) removing an app from k8s-deployments:
// the merge request removing it from the last environment that holds it; the
// webhook opens the next ones as each merges, then cleans up Jenkins.
// Help: vars/gitopsDecommission.txt.
//
// Thin on purpose, like gitopsPromote: `gitops-helper decommission` (Python, tested
// there) does the work; gitopsHelperCli checks the arguments, finds or installs the
// CLI, runs it with the values in environment variables and the token bound around
// that one command, and reports where the decommission stands.
import com.cloudbees.groovy.cps.NonCPS
import groovy.transform.Field

// `gitops-helper decommission`'s arguments from GITOPS_* variables (gitopsHelperCli
// runs them). `--opt=value` keeps a value starting with `-` a value.
@Field static final String DECOMMISSION_ARGUMENTS = '''set -- decommission --json "--app=$GITOPS_APP"
if [ -n "${GITOPS_REPO:-}" ]; then set -- "$@" "--repo=$GITOPS_REPO"; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsDecommission.txt).
    Map defaults = [
        app          : null,               // String, required: the app to remove everywhere
        repo         : null,               // String: its repository GROUP/NAME, for the push hook
        dryRun       : false,              // boolean: plan and print, change nothing
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsDecommission',
        command: 'decommission',
        commandLine: DECOMMISSION_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['app'],
        example: "gitopsDecommission(app: 'legacy-service')",
        variables: [app: 'GITOPS_APP', repo: 'GITOPS_REPO', project: 'GITOPS_PROJECT',
                    gitlabUrl: 'GITOPS_GITLAB_URL', dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    if (run.exitCode != 0) {
        error(gitopsHelperCli.failureMessage('gitopsDecommission', run.exitCode, "decommissioning ${settings.app}",
                                             'Check app, repo and project.'))
    }
    Map result = run.result
    // While a branch holds the app there is a merge request to report; after, the Jenkins clean-up.
    String summary = result.step == 'remove' ?
        "${removing(settings, result)}: ${gitopsHelperCli.outcome(result, settings.dryRun)}" :
        cleanedUp(settings, result)
    gitopsHelperCli.report('gitopsDecommission', summary, result)
    return result
}

// "decommission legacy-service: remove it from prod (then stage, dev, main)".
@NonCPS
String removing(Map settings, Map result) {
    List remaining = result.remaining instanceof List ? result.remaining : []
    String then = remaining.size() > 1 ? " (then ${remaining.drop(1).join(', ')})" : ''
    return "decommission ${result.app ?: settings.app}: remove it from ${result.branch}${then}"
}

// "decommission legacy-service: done, in no branch; Jenkins job deleted".
@NonCPS
String cleanedUp(Map settings, Map result) {
    String where = result.step == 'done' ? 'done, in no branch' : 'in no branch, Jenkins clean-up not finished'
    String text = "decommission ${result.app ?: settings.app}: ${where}; Jenkins job ${result.jenkins_job ?: 'unknown'}"
    return settings.dryRun ? "${text} (dry run)" : text
}
