// Shell injection through any string argument of any step stays inert: the value
// reaches the CLI verbatim, and no command in it runs. (The real CLI rejects what is
// not valid.)
Cases cases = new Cases()

// Each payload tries to create a file named `marker`, in the workspace or wherever the shell is.
final Map<String, Map> steps = [
    gitopsPromote   : [
        valid   : [app: 'example-app', image: 'registry.example.com/example-app', tag: '1.0.1'],
        payloads: [
            tag       : '1.0.0$(touch marker)',
            app       : 'example-app"; touch marker; echo "',
            image     : 'registry.example.com/example-app`touch marker`',
            digest    : 'sha256:$(touch marker)',
            env       : "dev'; touch marker; '",
            project   : 'platform/k8s-deployments;touch marker',
            appRepoDir: '$(touch marker)',
            gitlabUrl : 'https://gitlab.example.com/$(touch${IFS}marker)',
        ],
    ],
    gitopsPromoteEnv: [
        valid   : [from: 'dev', to: 'stage'],
        payloads: [
            from     : 'dev$(touch marker)',
            to       : 'stage"; touch marker; echo "',
            apps     : 'example-app,`touch marker`',
            project  : "platform/k8s-deployments'; touch marker; '",
            gitlabUrl: 'https://gitlab.example.com/$(touch${IFS}marker)',
        ],
    ],
    gitopsSet       : [
        valid   : [env: 'prod', app: 'example-app', set: ['replicas=4']],
        payloads: [
            env     : 'prod$(touch marker)',
            app     : 'example-app"; touch marker; echo "',
            imageTag: '1.0.42`touch marker`',
            digest  : 'sha256:$(touch marker)',
            set     : ['replicas=$(touch marker)'],
            project : "platform/k8s-deployments'; touch marker; '",
        ],
    ],
    gitopsRollback  : [
        valid   : [env: 'prod', app: 'example-app', to: 'previous'],
        payloads: [
            env: "prod'; touch marker; '",
            app: 'example-app`touch marker`',
            to : '1.0.0$(touch marker)',
        ],
    ],
    gitopsRevert    : [
        valid   : [env: 'stage'],
        payloads: [
            env   : 'stage$(touch marker)',
            commit: 'last"; touch marker; echo "',
        ],
    ],
    gitopsDecommission: [
        valid   : [app: 'legacy-service'],
        payloads: [
            app : 'legacy-service$(touch marker)',
            repo: 'apps/legacy-service`touch marker`',
        ],
    ],
]

steps.each { String step, Map spec ->
    spec.payloads.each { String key, Object value ->
        // A list argument (gitopsSet's set) carries the payload as its element.
        String payload = value instanceof List ? value[0] : value
        cases.test("${step} ${key}: ${payload}") {
            PipelineHarness h = FakeCli.harness("inject-${step}-${key}")
            h.run(step, spec.valid + [(key): value])

            List<File> markers = []
            [h.workspace, h.workspace.parentFile, new File(System.getProperty('user.dir'))].each { dir ->
                dir.eachFileRecurse { if (it.name == 'marker') markers << it }
            }
            assert markers.isEmpty(): "a payload ran: ${markers.unique()}"
            List<String> argv = FakeCli.received(h)[0].argv
            assert argv.any { it.endsWith(payload) }: "the value did not reach the CLI verbatim: ${argv}"
            // Whether the CLI then refuses the value is its own test (tests/test_inputs.py).
        }
    }
}

cases.finish()
