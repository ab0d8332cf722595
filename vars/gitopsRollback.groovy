// gitopsRollback: put one app's image in one environment of k8s-deployments back
// to an earlier tag (or the previous one), by a [no-promote] merge request.
// Help: vars/gitopsRollback.txt.
//
// Thin on purpose, like gitopsPromote: `gitops-helper rollback` (Python, tested
// there) does the work; gitopsHelperCli checks the arguments, finds or installs the
// CLI, runs it with the values in environment variables and the token bound around
// that one command, and reports the merge request.
import com.cloudbees.groovy.cps.NonCPS
import groovy.transform.Field

// `gitops-helper rollback`'s arguments from GITOPS_* variables (gitopsHelperCli runs
// them). `--opt=value` keeps a value starting with `-` a value.
@Field static final String ROLLBACK_ARGUMENTS = '''set -- rollback --json "--env=$GITOPS_ENV" "--app=$GITOPS_APP" "--to=$GITOPS_TO"
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsRollback.txt).
    Map defaults = [
        env          : null,               // String, required: the environment to roll back
        app          : null,               // String, required: the app whose image goes back
        to           : null,               // String, required: a tag, or 'previous'
        dryRun       : false,              // boolean: plan and print, change nothing
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsRollback',
        command: 'rollback',
        commandLine: ROLLBACK_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['env', 'app', 'to'],
        example: "gitopsRollback(env: 'prod', app: 'example-app', to: 'previous')",
        variables: [env: 'GITOPS_ENV', app: 'GITOPS_APP', to: 'GITOPS_TO', project: 'GITOPS_PROJECT',
                    gitlabUrl: 'GITOPS_GITLAB_URL', dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    if (run.exitCode != 0) {
        error(gitopsHelperCli.failureMessage('gitopsRollback', run.exitCode,
                                             "rolling back ${settings.app} in ${settings.env} to ${settings.to}",
                                             'Check env, app, to and project.'))
    }
    Map result = run.result
    String summary = "${subject(settings, result)}: ${gitopsHelperCli.outcome(result, settings.dryRun)}"
    gitopsHelperCli.report('gitopsRollback', summary, result)
    return result
}

// "example-app in prod: rollback to previous (registry.example.com/example-app:1.0.41)":
// the image the CLI chose, since 'previous' alone does not say which.
@NonCPS
String subject(Map settings, Map result) {
    String text = "${result.app ?: settings.app} in ${result.env ?: settings.env}: rollback to ${settings.to}"
    return result.image ? "${text} (${result.image})" : text
}
