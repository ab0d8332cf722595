"""`gitops-helper`, the command line: the layer above the tool (jenkins_helpers) and
the webhook, so neither of those imports the other's callers. Also the demo, which
plays the user and Jenkins against the sandbox."""
