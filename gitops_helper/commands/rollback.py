"""`gitops-helper rollback`: an app's image in one environment back to an earlier tag."""

from __future__ import annotations

from gitops_helper.commands.set_values import show
from jenkins_helpers.operations.edits import rollback

run = rollback
__all__ = ["run", "show"]
