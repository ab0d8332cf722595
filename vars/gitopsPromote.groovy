// gitopsPromote: promote a freshly pushed image of one app into the first
// environment of k8s-deployments, by a merge request that is opened or updated
// in place. Help: vars/gitopsPromote.txt.
//
// The step is thin on purpose: `gitops-helper promote` (Python, tested there)
// does the work. The step checks its arguments, finds or installs the CLI, hands
// it the arguments through environment variables and reads back its --json.
//
// Security: the shell scripts below are constants. User values reach them only
// as environment variables set with withEnv and are expanded inside double
// quotes, so a value like `1.0.0$(touch x)` stays a value (the CLI rejects it).
// The GitLab token only exists inside withCredentials, around the one `sh`
// that needs it, and no script ever prints it.
import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

@Field static final String PACKAGE = 'jenkins-gitops-helpers'
@Field static final List<String> REQUIRED = ['app', 'image', 'tag']

// Builds `gitops-helper promote` from GITOPS_* variables. `--opt=value` keeps a
// value starting with `-` a value. Only the final command is traced (`set -x`).
@Field static final String PROMOTE_SCRIPT = '''set +x
set -eu
set -- promote --json "--app=$GITOPS_APP" "--image=$GITOPS_IMAGE" "--tag=$GITOPS_TAG" "--app-repo=$GITOPS_APP_REPO"
if [ -n "${GITOPS_DIGEST:-}" ]; then set -- "$@" "--digest=$GITOPS_DIGEST"; fi
if [ -n "${GITOPS_ENV:-}" ]; then set -- "$@" "--env=$GITOPS_ENV"; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
set -x
exec "$GITOPS_HELPER" "$@"
'''

// Installs the pinned CLI into a venv, or reuses the venv when it already has
// that version. pip reads PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and
// PIP_TRUSTED_HOST from the agent's environment (never printed: a mirror URL
// may carry credentials).
@Field static final String INSTALL_SCRIPT = '''set +x
set -eu
venv="$GITOPS_HELPER_VENV"
installed=
if [ -x "$venv/bin/python" ]; then
  installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("jenkins-gitops-helpers"))' 2>/dev/null || true)
fi
if [ "$installed" = "$GITOPS_HELPER_VERSION" ] && [ -x "$venv/bin/gitops-helper" ]; then
  echo "gitopsPromote: reusing gitops-helper $installed in $venv"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "gitopsPromote: no python3 on this agent: install Python >= 3.11, or put gitops-helper on the PATH" >&2
  exit 1
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "gitopsPromote: gitops-helper needs Python >= 3.11, this agent's python3 is $(python3 -V 2>&1)" >&2
  exit 1
fi
echo "gitopsPromote: installing jenkins-gitops-helpers==$GITOPS_HELPER_VERSION into $venv"
if [ -n "${PIP_INDEX_URL:-}" ]; then echo "gitopsPromote: pip uses the package index in PIP_INDEX_URL"; fi
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$venv/bin/pip" install --quiet -r "$GITOPS_HELPER_REQUIREMENTS"
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
    String problem = argumentProblem(config, defaults)
    if (problem) {
        error(problem)
    }
    Map settings = settingsFrom(config, defaults)
    if (!env.WORKSPACE) {
        error('gitopsPromote: no workspace: call it inside node { } or a stage with an agent')
    }

    String helper = gitopsHelper()
    Map result = null
    withEnv(promoteEnvironment(settings, helper)) {
        withCredentials([string(credentialsId: settings.credentialsId, variable: 'GITLAB_TOKEN')]) {
            result = runPromote(settings)
        }
    }

    String summary = describe(settings, result)
    currentBuild.description = currentBuild.description ? "${currentBuild.description}; ${summary}" : summary
    echo(result.mr_url ? "gitopsPromote: ${summary} ${result.mr_url}" : "gitopsPromote: ${summary}")
    List warnings = result.warnings instanceof List ? result.warnings : []
    for (int i = 0; i < warnings.size(); i++) {
        echo("gitopsPromote: ${warnings[i]}")
    }
    return result
}

// The CLI on the agent's PATH, else the pinned version in a venv under the workspace's tmp dir.
String gitopsHelper() {
    String onPath = sh(script: 'command -v gitops-helper || true', returnStdout: true,
                       label: 'gitopsPromote: find gitops-helper').trim()
    if (onPath) {
        return onPath
    }
    String requirements = libraryResource("${PACKAGE}/requirements.txt")
    String version = pinnedVersion(requirements)
    if (!version) {
        error("gitopsPromote: the library's resources/${PACKAGE}/requirements.txt pins no version of ${PACKAGE}")
    }
    String tmp = env.WORKSPACE_TMP ?: "${env.WORKSPACE}@tmp"
    String venv = "${tmp}/gitops-helper-venv"
    String requirementsFile = "${tmp}/gitops-helper-requirements.txt"
    writeFile(file: requirementsFile, text: requirements)
    withEnv(["GITOPS_HELPER_VENV=${venv}", "GITOPS_HELPER_REQUIREMENTS=${requirementsFile}",
             "GITOPS_HELPER_VERSION=${version}"]) {
        try {
            sh(script: INSTALL_SCRIPT, label: 'gitopsPromote: install gitops-helper')
        } catch (hudson.AbortException e) {
            error("gitopsPromote: could not install ${PACKAGE}==${version} into ${venv} (see the output above). " +
                  'Put gitops-helper on the agent\'s PATH, or point PIP_INDEX_URL at a mirror that has it.')
        }
    }
    return "${venv}/bin/gitops-helper"
}

// Runs `gitops-helper promote --json` (GITOPS_* and GITLAB_TOKEN already set) and parses its answer.
Map runPromote(Map settings) {
    String out = null
    try {
        out = sh(script: PROMOTE_SCRIPT, returnStdout: true, label: 'gitopsPromote: gitops-helper promote')
    } catch (hudson.AbortException e) {
        error(failureMessage(settings, exitCode(e.message)))
    }
    Map result = parseResult(out)
    if (result == null) {
        error("gitopsPromote: gitops-helper promote --json printed no JSON object: ${abbreviate(out)}")
    }
    return result
}

@NonCPS
static boolean hasControlCharacter(String value) {
    return value.toCharArray().any { char c -> c < (' ' as char) || c == ('\u007f' as char) }
}

// A value as messages show it: control characters escaped, at most 60 characters.
@NonCPS
static String printable(String value) {
    String escaped = value.collect { String c ->
        char ch = c as char
        (ch < (' ' as char) || ch == ('\u007f' as char)) ? String.format('\\u%04x', (int) ch) : c
    }.join('')
    return escaped.length() > 60 ? escaped.substring(0, 60) + '...' : escaped
}

@NonCPS
String argumentProblem(Map config, Map defaults) {
    Map given = config == null ? [:] : config
    List<String> unknown = given.keySet().collect { it.toString() }.findAll { !defaults.containsKey(it) }.sort()
    if (unknown) {
        return "gitopsPromote: unknown argument${unknown.size() > 1 ? 's' : ''} " +
               "${unknown.collect { "'${it}'" }.join(', ')}; it takes ${defaults.keySet().join(', ')} " +
               '(help: Pipeline Syntax > Global Variables Reference > gitopsPromote)'
    }
    List<String> missing = REQUIRED.findAll { given[it] == null || given[it].toString().trim().isEmpty() }
    if (missing) {
        return "gitopsPromote: missing required argument${missing.size() > 1 ? 's' : ''} " +
               "${missing.collect { "'${it}'" }.join(', ')} (null or empty). Example: gitopsPromote(app: " +
               "'example-app', image: 'registry.example.com/example-app', tag: env.IMAGE_TAG); " +
               'a value taken from env.X is null when X is not set.'
    }
    for (String key in given.keySet()) {
        Object value = given[key]
        if (key == 'dryRun') {
            if (value != null && !(value instanceof Boolean)) {
                return "gitopsPromote: argument 'dryRun' must be true or false, got ${value?.getClass()?.simpleName} '${value}'"
            }
        } else if (value != null && !(value instanceof CharSequence)) {
            return "gitopsPromote: argument '${key}' must be a string, got ${value.getClass().simpleName} " +
                   "'${printable(value.toString())}'; quote it: ${key}: '${printable(value.toString())}'"
        } else if (value != null && hasControlCharacter(value.toString())) {
            // A newline in a value would let it write its own lines into the build log
            // (a forged "created !99"), through set -x or this step's messages.
            return "gitopsPromote: argument '${key}' contains a control character (newline, " +
                   "carriage return, tab...): '${printable(value.toString())}'"
        }
    }
    if (given.containsKey('credentialsId') && !given.credentialsId?.toString()?.trim()) {
        return "gitopsPromote: argument 'credentialsId' is empty; name a Jenkins \"Secret text\" credential " +
               "holding a GitLab API token (default '${defaults.credentialsId}')"
    }
    return null
}

// The defaults overlaid with the given arguments, as plain Strings (GStrings resolved).
@NonCPS
Map settingsFrom(Map config, Map defaults) {
    Map settings = new LinkedHashMap(defaults)
    (config ?: [:]).each { key, value -> settings[key.toString()] = value }
    settings.each { key, value ->
        if (value instanceof CharSequence) {
            settings[key] = value.toString()
        }
    }
    return settings
}

// The values for PROMOTE_SCRIPT. An empty value removes the variable (withEnv's rule).
@NonCPS
List<String> promoteEnvironment(Map settings, String helper) {
    return [
        "GITOPS_HELPER=${helper}",
        "GITOPS_APP=${settings.app}",
        "GITOPS_IMAGE=${settings.image}",
        "GITOPS_TAG=${settings.tag}",
        "GITOPS_APP_REPO=${settings.appRepoDir ?: '.'}",
        "GITOPS_DIGEST=${settings.digest ?: ''}",
        "GITOPS_ENV=${settings.env ?: ''}",
        "GITOPS_PROJECT=${settings.project ?: ''}",
        "GITOPS_GITLAB_URL=${settings.gitlabUrl ?: ''}",
        "GITOPS_DRY_RUN=${settings.dryRun ? 'true' : 'false'}",
    ].collect { it.toString() }
}

@NonCPS
String pinnedVersion(String requirements) {
    for (String line in requirements.readLines()) {
        def match = line =~ /^\s*jenkins-gitops-helpers\s*==\s*([^\s;#]+)/
        if (match.find()) {
            return match.group(1)
        }
    }
    return null
}

// `sh` fails with "script returned exit code N".
@NonCPS
int exitCode(String message) {
    def match = (message ?: '') =~ /exit code (\d+)/
    return match.find() ? match.group(1).toInteger() : -1
}

@NonCPS
String failureMessage(Map settings, int code) {
    String what = "promoting ${settings.app} ${settings.tag}"
    if (code == 2) {
        return "gitopsPromote: gitops-helper rejected the input for ${what} (exit 2, bad input); " +
               'its error: and hint: lines are above. Check app, image, tag, digest, env, project and appRepoDir.'
    }
    if (code == 1) {
        return "gitopsPromote: ${what} failed (gitops-helper exit 1); its error: and hint: lines are above."
    }
    return "gitopsPromote: ${what} failed: gitops-helper exited with code ${code} (see the output above)."
}

// The CLI's --json answer as plain LinkedHashMap/ArrayList values (serializable
// across CPS steps), or null when it is not a JSON object.
@NonCPS
Map parseResult(String text) {
    Object parsed
    try {
        parsed = new JsonSlurperClassic().parseText(text ?: '')
    } catch (Exception ignored) {
        return null
    }
    return parsed instanceof Map ? (Map) plain(parsed) : null
}

@NonCPS
Object plain(Object value) {
    if (value instanceof Map) {
        Map copy = new LinkedHashMap()
        value.keySet().collect { it.toString() }.sort().each { key -> copy[key] = plain(value[key]) }
        return copy
    }
    if (value instanceof List) {
        return new ArrayList(value.collect { plain(it) })
    }
    return value
}

// "example-app 1.0.1 -> dev: !12 created", for the build description and the log.
@NonCPS
String describe(Map settings, Map result) {
    String where = "${result.app ?: settings.app} ${result.tag ?: settings.tag} -> ${result.env ?: settings.env ?: '?'}"
    String status = result.status ?: 'done'
    String mr = result.mr_iid != null ? "!${result.mr_iid} " : ''
    String text = status == 'noop' ? "${where}: noop, already there${mr ? " (${mr.trim()})" : ''}" :
                                     "${where}: ${mr}${status}"
    return settings.dryRun ? "${text} (dry run)" : text
}

@NonCPS
String abbreviate(String text) {
    String flat = (text ?: '').trim().replaceAll(/\s+/, ' ')
    return flat.isEmpty() ? '(nothing)' : (flat.length() > 200 ? flat.substring(0, 200) + '...' : flat)
}
