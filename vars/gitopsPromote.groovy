// gitopsPromote: promote a freshly pushed image of one app into the first
// environment of k8s-deployments, by a merge request that is opened or updated
// in place. Help: vars/gitopsPromote.txt.
//
// The step is thin on purpose: `gitops-helper promote` (Python, tested there)
// does the work. The step describes its arguments and the CLI's command line;
// gitopsHelperCli (vars/gitopsHelperCli.groovy, shared by the library's steps)
// checks the arguments, finds or installs the CLI, runs it with the values in
// environment variables and the token bound around that one command, and reads
// back its --json.
import com.cloudbees.groovy.cps.NonCPS
import groovy.transform.Field

// `gitops-helper promote`'s arguments from GITOPS_* variables (gitopsHelperCli
// runs them). `--opt=value` keeps a value starting with `-` a value.
@Field static final String PROMOTE_ARGUMENTS = '''set -- promote --json "--app=$GITOPS_APP" "--image=$GITOPS_IMAGE" "--tag=$GITOPS_TAG" "--app-repo=$GITOPS_APP_REPO"
if [ -n "${GITOPS_DIGEST:-}" ]; then set -- "$@" "--digest=$GITOPS_DIGEST"; fi
if [ -n "${GITOPS_ENV:-}" ]; then set -- "$@" "--env=$GITOPS_ENV"; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsPromote.txt).
    Map defaults = [
        app          : null,               // String, required: the app's name in k8s-deployments
        image        : null,               // String, required: image repository, without tag
        tag          : null,               // String, required: the tag just pushed
        digest       : null,               // String: 'sha256:...' of the pushed image, pins it
        env          : null,               // String: target environment (default: the first one, dev)
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
        appRepoDir   : '.',                // String: checkout holding deployment/app.cue (workspace-relative)
        dryRun       : false,              // boolean: plan and print, change nothing
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsPromote',
        command: 'promote',
        commandLine: PROMOTE_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['app', 'image', 'tag'],
        example: "gitopsPromote(app: 'example-app', image: 'registry.example.com/example-app', tag: env.IMAGE_TAG)",
        variables: [app: 'GITOPS_APP', image: 'GITOPS_IMAGE', tag: 'GITOPS_TAG', appRepoDir: 'GITOPS_APP_REPO',
                    digest: 'GITOPS_DIGEST', env: 'GITOPS_ENV', project: 'GITOPS_PROJECT',
                    gitlabUrl: 'GITOPS_GITLAB_URL', dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    if (run.exitCode != 0) {
        error(gitopsHelperCli.failureMessage('gitopsPromote', run.exitCode, "promoting ${settings.app} ${settings.tag}",
                                             'Check app, image, tag, digest, env, project and appRepoDir.'))
    }
    Map result = run.result
    // "example-app 1.0.1 -> dev: !12 created", for the build description and the log.
    String summary = "${subject(settings, result)}: ${gitopsHelperCli.outcome(result, settings.dryRun)}"
    gitopsHelperCli.report('gitopsPromote', summary, result)
    return result
}

@NonCPS
String subject(Map settings, Map result) {
    return "${result.app ?: settings.app} ${result.tag ?: settings.tag} -> ${result.env ?: settings.env ?: '?'}"
}
