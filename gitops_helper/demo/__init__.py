"""`gitops-helper demo`: the 28 use cases run end to end in the sandbox (docs/USE_CASES.md)."""
