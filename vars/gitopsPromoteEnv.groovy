// gitopsPromoteEnv: promote what one environment of k8s-deployments has and the
// next one lacks (dev -> stage, stage -> prod, main -> dev), one merge request per
// unit: each app whose app layer or image differs, and the platform layer.
// Help: vars/gitopsPromoteEnv.txt.
//
// Thin on purpose, like gitopsPromote: `gitops-helper promote-env` (Python, tested
// there) does the work; gitopsHelperCli (shared by the library's steps) checks the
// arguments, finds or installs the CLI, and runs it with the values in environment
// variables and the token bound around that one command. This step reports each
// unit and fails the build when the CLI refused the input or a unit is blocked.
import com.cloudbees.groovy.cps.NonCPS
import groovy.json.JsonOutput
import groovy.transform.Field

// Marks the one console line that carries the CLI's answer as JSON, for whoever started
// the build: the webhook's Jenkins executor reads each unit's merge request (or why it
// is blocked) from it (docs/JENKINS.md, "What a build reports").
@Field static final String RESULT_MARKER = 'gitopsPromoteEnv result (JSON): '

// `gitops-helper promote-env`'s arguments from GITOPS_* variables (gitopsHelperCli
// runs them). `--opt=value` keeps a value starting with `-` a value.
@Field static final String PROMOTE_ENV_ARGUMENTS = '''set -- promote-env --json "--from=$GITOPS_FROM" "--to=$GITOPS_TO"
if [ -n "${GITOPS_APPS:-}" ]; then set -- "$@" "--apps=$GITOPS_APPS"; fi
if [ "${GITOPS_PLATFORM:-}" = true ]; then set -- "$@" --platform; fi
if [ -n "${GITOPS_GROUP:-}" ]; then set -- "$@" "--group=$GITOPS_GROUP"; fi
if [ "${GITOPS_SKIP_ENV:-}" = true ]; then set -- "$@" --skip-env; fi
if [ -n "${GITOPS_PROJECT:-}" ]; then set -- "$@" "--project=$GITOPS_PROJECT"; fi
if [ -n "${GITOPS_GITLAB_URL:-}" ]; then set -- "$@" "--gitlab-url=$GITOPS_GITLAB_URL"; fi
if [ "${GITOPS_DRY_RUN:-}" = true ]; then set -- "$@" --dry-run; fi
'''

def call(Map config = [:]) {
    // Every argument the step accepts, with its default (types and meaning: gitopsPromoteEnv.txt).
    Map defaults = [
        from         : null,               // String, required: source environment (or main)
        to           : null,               // String, required: target environment
        apps         : null,               // String: only these apps, comma-separated (default: every unit)
        platform     : false,              // boolean: the platform layer (alone, or with apps)
        group        : null,               // String: a release group, its apps moved in one MR
        skipEnv      : false,              // boolean: allow skipping environments between from and to
        dryRun       : false,              // boolean: plan and print, change nothing
        project      : null,               // String: GitLab path of k8s-deployments (default: the CLI's)
        gitlabUrl    : null,               // String: GitLab base URL (default: GITLAB_URL on the agent)
        credentialsId: 'gitlab-api-token', // String: Jenkins "Secret text" credential, a GitLab API token
    ]
    Map run = gitopsHelperCli(
        step: 'gitopsPromoteEnv',
        command: 'promote-env',
        commandLine: PROMOTE_ENV_ARGUMENTS,
        arguments: config,
        accepts: defaults,
        required: ['from', 'to'],
        example: "gitopsPromoteEnv(from: 'dev', to: 'stage')",
        variables: [from: 'GITOPS_FROM', to: 'GITOPS_TO', apps: 'GITOPS_APPS', platform: 'GITOPS_PLATFORM',
                    group: 'GITOPS_GROUP', skipEnv: 'GITOPS_SKIP_ENV', project: 'GITOPS_PROJECT', gitlabUrl: 'GITOPS_GITLAB_URL',
                    dryRun: 'GITOPS_DRY_RUN']
    )
    Map settings = run.settings
    Map result = run.result
    if (run.exitCode != 0 && blocked(result).isEmpty()) {
        error(gitopsHelperCli.failureMessage('gitopsPromoteEnv', run.exitCode,
                                             "promoting ${settings.from} -> ${settings.to}",
                                             'Check from, to, apps, skipEnv and project.'))
    }

    // Exit 0, or exit 1 with blocked units: every unit is reported before failing,
    // so the merge requests that were opened show in the log and the description.
    String route = routeOf(settings, result)
    String summary = describe(route, result, settings.dryRun)
    gitopsHelperCli.describeBuild(summary)
    List<String> lines = unitLines(route, result)
    for (int i = 0; i < lines.size(); i++) {
        echo(lines[i])
    }
    echo(resultLine(result))
    if (run.exitCode != 0) {
        error(blockedMessage(route, blocked(result)))
    }
    return result
}

@NonCPS
List<Map> units(Map result) {
    return result?.units instanceof List ? result.units.findAll { it instanceof Map } : []
}

@NonCPS
List<Map> blocked(Map result) {
    return units(result).findAll { it.status == 'blocked' }
}

// "dev -> stage", or "dev -> prod (skipping stage)".
@NonCPS
String routeOf(Map settings, Map result) {
    String text = "${result?.source ?: settings.from} -> ${result?.target ?: settings.to}"
    List skipped = result?.skipped instanceof List ? result.skipped : []
    return skipped ? "${text} (skipping ${skipped.join(', ')})" : text
}

// "dev -> stage: example-app !12 created, platform noop", for the build description.
@NonCPS
String describe(String route, Map result, boolean dryRun) {
    List<Map> all = units(result)
    String text = all ? all.collect { Map u -> "${u.unit}${u.mr_iid != null ? " !${u.mr_iid}" : ''} ${u.status}" }.join(', ') :
                        'nothing to promote'
    return dryRun ? "${route}: ${text} (dry run)" : "${route}: ${text}"
}

// One line per unit (a blocked unit's further reason lines follow it, indented), then its warnings.
@NonCPS
List<String> unitLines(String route, Map result) {
    List<String> lines = []
    if (units(result).isEmpty()) {
        lines << "gitopsPromoteEnv: ${route}: nothing to promote, the target has everything the source has".toString()
    }
    units(result).each { Map u ->
        String what = u.tag ? "${u.unit} ${u.tag}" : "${u.unit}"
        List<String> reason = (u.reason ?: '').toString().readLines()
        String outcome
        if (u.status == 'blocked') {
            outcome = "blocked, no merge request: ${firstLine(u.reason)}"
        } else if (result.dry_run && u.status != 'noop') {
            outcome = "would be ${u.status} (dry run) on ${u.branch}${u.mr_iid != null ? " (!${u.mr_iid})" : ''}"
        } else if (u.mr_iid != null) {
            outcome = "!${u.mr_iid} ${u.status} ${u.mr_url ?: ''}".trim()
        } else {
            outcome = u.reason ? "${u.status}, ${firstLine(u.reason)}" : "${u.status}"
        }
        lines << "gitopsPromoteEnv: ${route}: ${what}: ${outcome}".toString()
        if (u.status == 'blocked' && reason.size() > 1) {
            lines << reason.drop(1).collect { "    ${it}" }.join('\n')
        }
        (u.warnings instanceof List ? u.warnings : []).each { w ->
            lines << "gitopsPromoteEnv: ${u.unit}: ${w}".toString()
        }
    }
    return lines
}

// The marked line: the CLI's answer on one line, each unit without its `changes` (the
// files of a platform change can be hundreds; the merge request lists them anyway).
@NonCPS
String resultLine(Map result) {
    Map report = new LinkedHashMap(result)
    report.units = units(result).collect { Map u -> u.findAll { key, value -> key != 'changes' } }
    return RESULT_MARKER + JsonOutput.toJson(report)
}

@NonCPS
String firstLine(Object text) {
    List<String> lines = (text ?: '').toString().readLines().findAll { it.trim() }
    return lines ? lines[0].trim() : 'no reason given'
}

@NonCPS
String blockedMessage(String route, List<Map> blocked) {
    List<String> names = blocked.collect { Map u -> "${u.unit} (${firstLine(u.reason)})".toString() }
    return "gitopsPromoteEnv: ${route}: ${blocked.size()} unit${blocked.size() > 1 ? 's' : ''} blocked, " +
           "no merge request for ${blocked.size() > 1 ? 'them' : 'it'}: ${names.join('; ')}. " +
           'Every unit and the full reasons are listed above.'
}
