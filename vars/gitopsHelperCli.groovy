// gitopsHelperCli: how this library's steps run gitops-helper, in one place.
// Help: vars/gitopsHelperCli.txt.
//
// The library's steps (gitopsPromote, gitopsPromoteEnv, gitopsSet, gitopsRollback,
// gitopsRevert, gitopsDecommission) only describe their arguments and their
// command line; this step does the rest the same way for all, so a fix to the
// checks, the install or the token handling reaches every step at once:
//   1. checks the step's arguments before any shell runs (unknown, missing, wrong
//      type, control characters, Unicode line separators and bidi controls),
//   2. finds gitops-helper on the agent's PATH, or installs the version pinned in
//      resources/jenkins-gitops-helpers/requirements.txt into a venv,
//   3. runs the step's command line with the values as environment variables
//      (withEnv) and the GitLab token bound by withCredentials around that one sh,
//   4. returns the exit code and the --json answer as a plain Map.
// Its other methods (gitopsHelperCli.report(...), .failureMessage(...), ...) are
// what the steps do the same way with that answer: the failure message, the build
// description and the log line.
//
// Security: every shell script is a constant. User values reach the shell only as
// environment variables and are expanded inside double quotes, so a value like
// `1.0.0$(touch x)` stays a value (the CLI rejects it). No script prints the token.
import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonSlurperClassic
import groovy.transform.Field

@Field static final String PACKAGE = 'jenkins-gitops-helpers'
// The last line of the run script's stdout: the CLI's exit code. The script itself
// always succeeds, so returnStdout keeps the JSON a failed command prints too
// (promote-env answers with its blocked units and exit 1).
@Field static final String EXIT_MARKER = 'gitops-helper-exit-status='
// What a message calls the characters isUnsafe() refuses.
@Field static final String CONTROL_KINDS =
    'newline, carriage return, tab, a Unicode line or paragraph separator, a bidi control...'

// Around a step's command line (lines that only `set --` the CLI's arguments):
// quiet while it builds them, then only the command itself is traced.
@Field static final String RUN_START = '''set +x
set -eu
'''
@Field static final String RUN_END = '''
status=0
set -x
"$GITOPS_HELPER" "$@" || status=$?
{ set +x; } 2>/dev/null
printf '\\n%s%s\\n' gitops-helper-exit-status= "$status"
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
  echo "$GITOPS_STEP: reusing gitops-helper $installed in $venv"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "$GITOPS_STEP: no python3 on this agent: install Python >= 3.11, or put gitops-helper on the PATH" >&2
  exit 1
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "$GITOPS_STEP: gitops-helper needs Python >= 3.11, this agent's python3 is $(python3 -V 2>&1)" >&2
  exit 1
fi
echo "$GITOPS_STEP: installing jenkins-gitops-helpers==$GITOPS_HELPER_VERSION into $venv"
if [ -n "${PIP_INDEX_URL:-}" ]; then echo "$GITOPS_STEP: pip uses the package index in PIP_INDEX_URL"; fi
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 "$venv/bin/pip" install --quiet -r "$GITOPS_HELPER_REQUIREMENTS"
'''

def call(Map config = [:]) {
    // What a step hands over (meaning and types: gitopsHelperCli.txt).
    Map defaults = [
        step       : null, // String, required: the calling step; messages and sh labels start with it
        command    : null, // String, required: the gitops-helper command, e.g. 'promote'
        commandLine: null, // String, required: constant sh lines that `set --` the arguments
        arguments  : [:],  // Map: the arguments the step was called with
        accepts    : [:],  // Map: every argument the step accepts, with its default
        required   : [],   // List: the arguments that must be set
        example    : null, // String: a valid call of the step, for a missing argument
        variables  : [:],  // Map: argument -> the environment variable that carries it
    ]
    Map spec = new LinkedHashMap(defaults)
    spec.putAll(config ?: [:])
    String misuse = specProblem(config ?: [:], defaults)
    if (misuse) {
        error(misuse)
    }
    String step = spec.step
    String problem = argumentProblem(step, spec.arguments, spec.accepts, spec.required, spec.example)
    if (problem) {
        error(problem)
    }
    Map settings = settingsFrom(spec.arguments, spec.accepts)
    if (!env.WORKSPACE) {
        error("${step}: no workspace: call it inside node { } or a stage with an agent")
    }

    String helper = gitopsHelper(step)
    String out = null
    withEnv(["GITOPS_HELPER=${helper}".toString()] + environment(settings, spec.variables)) {
        withCredentials([string(credentialsId: settings.credentialsId, variable: 'GITLAB_TOKEN')]) {
            try {
                out = sh(script: RUN_START + spec.commandLine + RUN_END, returnStdout: true,
                         label: "${step}: gitops-helper ${spec.command}")
            } catch (hudson.AbortException e) {
                // The script itself failed before or after the CLI ran (the CLI's own
                // exit code is in its last line): a broken agent shell, a killed sh.
                error("${step}: could not run gitops-helper ${spec.command}: ${e.message} (see the output above)")
            }
        }
    }
    Map answer = split(out)
    Map result = parseResult(answer.json)
    if (answer.exitCode == 0 && result == null) {
        error("${step}: gitops-helper ${spec.command} --json printed no JSON object: ${abbreviate(answer.json)}")
    }
    return [settings: settings, exitCode: answer.exitCode, result: result]
}

// The CLI on the agent's PATH, else the pinned version in a venv under the workspace's tmp dir.
String gitopsHelper(String step) {
    String onPath = sh(script: 'command -v gitops-helper || true', returnStdout: true,
                       label: "${step}: find gitops-helper").trim()
    if (onPath) {
        return onPath
    }
    String requirements = libraryResource("${PACKAGE}/requirements.txt")
    String version = pinnedVersion(requirements)
    if (!version) {
        error("${step}: the library's resources/${PACKAGE}/requirements.txt pins no version of ${PACKAGE}")
    }
    String tmp = env.WORKSPACE_TMP ?: "${env.WORKSPACE}@tmp"
    String venv = "${tmp}/gitops-helper-venv"
    String requirementsFile = "${tmp}/gitops-helper-requirements.txt"
    writeFile(file: requirementsFile, text: requirements)
    withEnv(["GITOPS_HELPER_VENV=${venv}", "GITOPS_HELPER_REQUIREMENTS=${requirementsFile}",
             "GITOPS_HELPER_VERSION=${version}", "GITOPS_STEP=${step}"]) {
        try {
            sh(script: INSTALL_SCRIPT, label: "${step}: install gitops-helper")
        } catch (hudson.AbortException e) {
            error("${step}: could not install ${PACKAGE}==${version} into ${venv} (see the output above). " +
                  'Put gitops-helper on the agent\'s PATH, or point PIP_INDEX_URL at a mirror that has it.')
        }
    }
    return "${venv}/bin/gitops-helper"
}

// The library's own call went wrong (a bug in a step, not the user's input).
@NonCPS
String specProblem(Map config, Map defaults) {
    List<String> unknown = config.keySet().collect { it.toString() }.findAll { !defaults.containsKey(it) }.sort()
    if (unknown) {
        return "gitopsHelperCli: unknown argument${unknown.size() > 1 ? 's' : ''} ${unknown.join(', ')}; " +
               "it takes ${defaults.keySet().join(', ')}"
    }
    List<String> missing = ['step', 'command', 'commandLine'].findAll { !config[it]?.toString()?.trim() }
    return missing ? "gitopsHelperCli: missing ${missing.join(', ')}" : null
}

// The characters no argument may hold, as the CLI refuses them too (its inputs.py):
// every control character (C0, DEL, and C1 such as U+0085 NEXT LINE), the line and
// paragraph separators U+2028 and U+2029 (with the controls, every character that
// starts a new line somewhere: a log viewer, a browser, a terminal), and the bidi
// controls U+061C, U+200E, U+200F, U+202A-U+202E and U+2066-U+2069, which make the
// text around them read in another order ("example-app<U+202E>1.2.3" shows as
// "example-app3.2.1").
@NonCPS
static boolean isUnsafe(char c) {
    int code = (int) c
    return code < 0x20 || (code >= 0x7f && code <= 0x9f) || code == 0x2028 || code == 0x2029 ||
           code == 0x061c || code == 0x200e || code == 0x200f ||
           (code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)
}

@NonCPS
static boolean hasControlCharacter(String value) {
    return value.toCharArray().any { char c -> isUnsafe(c) }
}

// A value as messages show it: unsafe characters escaped (\u2028), at most 60 characters.
@NonCPS
static String printable(String value) {
    String escaped = value.collect { String c ->
        char ch = c as char
        isUnsafe(ch) ? String.format('\\u%04x', (int) ch) : c
    }.join('')
    return escaped.length() > 60 ? escaped.substring(0, 60) + '...' : escaped
}

// What is wrong with a step's arguments, or null. An argument whose default is a
// boolean must be a boolean, one whose default is a list a list of strings; every
// other one a string.
@NonCPS
String argumentProblem(String step, Map arguments, Map accepts, List required, String example) {
    Map given = arguments == null ? [:] : arguments
    List<String> unknown = given.keySet().collect { it.toString() }.findAll { !accepts.containsKey(it) }.sort()
    if (unknown) {
        return "${step}: unknown argument${unknown.size() > 1 ? 's' : ''} " +
               "${unknown.collect { "'${it}'" }.join(', ')}; it takes ${accepts.keySet().join(', ')} " +
               "(help: Pipeline Syntax > Global Variables Reference > ${step})"
    }
    List<String> missing = required.findAll { given[it] == null || given[it].toString().trim().isEmpty() }
    if (missing) {
        return "${step}: missing required argument${missing.size() > 1 ? 's' : ''} " +
               "${missing.collect { "'${it}'" }.join(', ')} (null or empty). Example: ${example}; " +
               'a value taken from env.X is null when X is not set.'
    }
    for (String key in given.keySet()) {
        String problem = valueProblem(step, key, given[key], accepts[key])
        if (problem) {
            return problem
        }
    }
    if (accepts.containsKey('credentialsId') && given.containsKey('credentialsId') &&
            !given.credentialsId?.toString()?.trim()) {
        return "${step}: argument 'credentialsId' is empty; name a Jenkins \"Secret text\" credential " +
               "holding a GitLab API token (default '${accepts.credentialsId}')"
    }
    return null
}

@NonCPS
String valueProblem(String step, String key, Object value, Object byDefault) {
    if (value == null) {
        return null
    }
    if (byDefault instanceof Boolean) {
        return value instanceof Boolean ? null :
               "${step}: argument '${key}' must be true or false, got ${value.getClass().simpleName} '${value}'"
    }
    if (byDefault instanceof List) {
        return listProblem(step, key, value)
    }
    if (!(value instanceof CharSequence)) {
        String text = printable(value instanceof Collection ? value.join(',') : value.toString())
        return "${step}: argument '${key}' must be a string, got ${value.getClass().simpleName} " +
               "'${printable(value.toString())}'; quote it: ${key}: '${text}'"
    }
    if (hasControlCharacter(value.toString())) {
        // A newline in a value would let it write its own lines into the build log
        // (a forged "created !99"), through set -x or the steps' messages; so would a
        // Unicode line separator where the log is read, and a bidi control reorders one.
        return "${step}: argument '${key}' contains a control character (${CONTROL_KINDS}): " +
               "'${printable(value.toString())}'"
    }
    return null
}

// A list reaches the shell as one variable, its elements joined by newlines (see
// environment()), so an element must not hold a newline: it would split into two
// values. Nor any other control character, as for strings; nor be empty.
@NonCPS
String listProblem(String step, String key, Object value) {
    if (!(value instanceof List) || value.any { !(it instanceof CharSequence) }) {
        String example = value instanceof CharSequence ? "['${printable(value.toString())}']" : "['...', '...']"
        return "${step}: argument '${key}' must be a list of strings, got ${value.getClass().simpleName} " +
               "'${printable(value.toString())}'; e.g. ${key}: ${example}"
    }
    List<String> elements = value.collect { it.toString() }
    for (int i = 0; i < elements.size(); i++) {
        if (elements[i].isEmpty()) {
            return "${step}: argument '${key}' has an empty element (number ${i + 1})"
        }
        if (hasControlCharacter(elements[i])) {
            return "${step}: argument '${key}' contains a control character (${CONTROL_KINDS}) in " +
                   "element ${i + 1}: '${printable(elements[i])}'; give each value as its own element"
        }
    }
    return null
}

// The defaults overlaid with the given arguments, as plain Strings (GStrings
// resolved). null and '' take the default, as a left-out argument does: a job
// parameter that is not set (params.X) then means "not given".
@NonCPS
Map settingsFrom(Map arguments, Map accepts) {
    Map settings = new LinkedHashMap(accepts)
    (arguments ?: [:]).each { key, value ->
        if (value instanceof List) {
            settings[key.toString()] = new ArrayList<String>(value.collect { it.toString() })
        } else if (value != null && !(value instanceof CharSequence && value.toString().isEmpty())) {
            settings[key.toString()] = value instanceof CharSequence ? value.toString() : value
        }
    }
    return settings
}

// withEnv pairs for the command line. An empty value removes the variable (withEnv's
// rule). A list is one value per line, which the command line reads back with
// `while IFS= read -r` (listProblem keeps newlines out of its elements).
@NonCPS
List<String> environment(Map settings, Map variables) {
    return variables.collect { argument, variable ->
        Object value = settings[argument]
        String text = value instanceof Boolean ? (value ? 'true' : 'false') :
                      value instanceof List ? value.join('\n') : (value == null ? '' : value.toString())
        "${variable}=${text}".toString()
    }
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

// The run script's stdout: the CLI's own, then the marker line with its exit code.
@NonCPS
Map split(String out) {
    String text = out ?: ''
    int at = text.lastIndexOf(EXIT_MARKER)
    if (at < 0) {
        return [json: text, exitCode: -1]
    }
    String code = text.substring(at + EXIT_MARKER.length()).trim()
    return [json: text.substring(0, at), exitCode: code.isInteger() ? code.toInteger() : -1]
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

@NonCPS
String abbreviate(String text) {
    String flat = (text ?: '').trim().replaceAll(/\s+/, ' ')
    return flat.isEmpty() ? '(nothing)' : (flat.length() > 200 ? flat.substring(0, 200) + '...' : flat)
}

// ---- What the steps do the same way with the CLI's answer -----------------------

// Why a step fails when gitops-helper exited non-zero. `what` is what the step was
// doing ("rolling back example-app in prod to 1.0.41"); `check` names the arguments
// to look at when the CLI refused the input.
@NonCPS
String failureMessage(String step, int code, String what, String check) {
    switch (code) {
        case 2:
            return "${step}: gitops-helper rejected the input for ${what} (exit 2, bad input); " +
                   "its error: and hint: lines are above. ${check}"
        case 1:
            return "${step}: ${what} failed (gitops-helper exit 1); its error: and hint: lines are above."
        default:
            return "${step}: ${what} failed: gitops-helper exited with code ${code} (see the output above)."
    }
}

// A merge request's outcome for a summary: "!12 created", "noop, already there (!12)",
// "created (dry run)".
@NonCPS
String outcome(Map result, boolean dryRun) {
    String status = result?.status ?: 'done'
    String mr = result?.mr_iid != null ? "!${result.mr_iid}" : ''
    String text = status == 'noop' ? "noop, already there${mr ? " (${mr})" : ''}" : (mr ? "${mr} ${status}" : status)
    return dryRun ? "${text} (dry run)" : text
}

// The build description: `summary`, added to one set earlier in the build (a job may
// run several steps, each adds its own).
void describeBuild(String summary) {
    currentBuild.description = currentBuild.description ? "${currentBuild.description}; ${summary}" : summary
}

// A one-merge-request step's report: `summary` as the build description and one log
// line with the merge request's URL, then one line per warning of the CLI.
void report(String step, String summary, Map result) {
    describeBuild(summary)
    echo(result?.mr_url ? "${step}: ${summary} ${result.mr_url}" : "${step}: ${summary}")
    List warnings = result?.warnings instanceof List ? result.warnings : []
    for (int i = 0; i < warnings.size(); i++) {
        echo("${step}: ${warnings[i]}")
    }
}
