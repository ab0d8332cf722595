// gitopsSet: change one app's image tag or env values in one environment of
// k8s-deployments, by a merge request (a hotfix, a third-party app's new version,
// replicas...). Help: vars/gitopsSet.txt.
//
// Thin on purpose, like gitopsPromote: `gitops-helper set` (Python, tested there)
// does the work; gitopsHelperCli checks the arguments, finds or installs the CLI,
// runs it with the values in environment variables and the token bound around that
// one command, and reports the merge request.
import com.cloudbees.groovy.cps.NonCPS
import groovy.transform.Field

// `gitops-helper set`'s arguments from GITOPS_* variables (gitopsHelperCli runs
// them). `--opt=value` keeps a value starting with `-` a value. GITOPS_SET holds the
// `set` list one element per line (gitopsHelperCli refuses newlines inside one);
// the here-document feeds the loop without a subshell, so its `set --` lasts, and
// what $GITOPS_SET expands to is not expanded again.
@Field static final String SET_ARGUMENTS = '''set -- set --json "--env=$GITOPS_ENV" "--app=$GITOPS_APP"
if [ -n "${GITOPS_IMAGE_TAG:-}" ]; then set -- "$@" "--image-tag=$GITOPS_IMAGE_TAG"; fi
if [ -n "${GITOPS_DIGEST:-}" ]; then set -- "$@" "--digest=$GITOPS_DIGEST"; fi
if [ -n "${GITOPS_SET:-}" ]; then
  while IFS= read -r value; do set -- "$@" "--set=$value"; done <<GITOPS_SET_VALUES
$GITOPS_SET
GITOPS_SET_VALUES
fi
if [ "${GITOPS_NO_PROMOTE:-}" = true ]; then set -- "$@" --no-promote; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

// Where the CLI's answer lists a new image tag among the values set.
@Field static final String IMAGE_TAG_PATH = 'deployment.image.tag'

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsSet.txt).
    Map defaults = [
        env          : null,               // String, required: the environment to change
        app          : null,               // String, required: the app whose env.cue entry changes
        imageTag     : null,               // String: a new image tag
        digest       : null,               // String: 'sha256:...' of that image (with imageTag)
        set          : [],                 // List of String: 'path=value' below the app's env entry
        noPromote    : false,              // boolean: do not promote a new image onwards after the merge
        dryRun       : false,              // boolean: plan and print, change nothing
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsSet',
        command: 'set',
        commandLine: SET_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['env', 'app'],
        example: "gitopsSet(env: 'prod', app: 'example-app', set: ['replicas=4'])",
        variables: [env: 'GITOPS_ENV', app: 'GITOPS_APP', imageTag: 'GITOPS_IMAGE_TAG', digest: 'GITOPS_DIGEST',
                    set: 'GITOPS_SET', noPromote: 'GITOPS_NO_PROMOTE', project: 'GITOPS_PROJECT',
                    gitlabUrl: 'GITOPS_GITLAB_URL', dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    if (run.exitCode != 0) {
        error(gitopsHelperCli.failureMessage('gitopsSet', run.exitCode, "setting ${settings.app} in ${settings.env}",
                                             'Check env, app, imageTag, digest, set and project.'))
    }
    Map result = run.result
    String summary = "${subject(settings, result)}: ${gitopsHelperCli.outcome(result, settings.dryRun)}"
    gitopsHelperCli.report('gitopsSet', summary, result)
    return result
}

// "example-app in prod: set image 1.0.42-hotfix1, replicas": what changes, from the
// CLI's list (paths as it read them; the values are in the merge request), the image first.
@NonCPS
String subject(Map settings, Map result) {
    List<Map> changed = result.settings instanceof List ? result.settings.findAll { it instanceof Map && it.path } : []
    List<String> image = changed.findAll { it.path == IMAGE_TAG_PATH }.collect { "image ${it.after}".toString() }
    List<String> values = changed.findAll { it.path != IMAGE_TAG_PATH }.collect { it.path.toString() }
    String text = "${result.app ?: settings.app} in ${result.env ?: settings.env}: set ${(image + values).join(', ')}"
    return settings.noPromote ? "${text} [no-promote]" : text
}
