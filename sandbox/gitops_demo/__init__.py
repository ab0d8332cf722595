"""`gitops-helper demo`: the 28 use cases run end to end in the sandbox (docs/USE_CASES.md).

Shipped with the sandbox (sandbox/pyproject.toml, jenkins-gitops-helpers-sandbox), not
with the tool: it imports the library and the webhook, never `gitops_helper`, and starts
the sandbox as a child process (launch.py), never importing it either.
"""
