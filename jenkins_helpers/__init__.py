"""Helpers for CUE-based GitOps promotion on Jenkins, GitLab and ArgoCD."""

__version__ = "0.1.0"
