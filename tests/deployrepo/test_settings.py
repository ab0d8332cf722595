"""gitops.yaml and `init-repo --envs`: names the tool's branch scheme reserves, the label
budget of environment names, and the `policies` section.

init-repo runs as a user runs it (a real process: exit 2, nothing created); a gitops.yaml
written by hand later gets the same checks wherever it is read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from jenkins_helpers.deployrepo.settings import (
    ENV_NAME_MAX,
    RESERVED_BRANCH_PREFIXES,
    Policies,
    default_settings,
    load_settings,
    parse_settings,
)
from jenkins_helpers.errors import BadInput
from jenkins_helpers.promotion import naming

DNS = "abcdefghijklmnopqrstuvwxyz0123456789"
PRODUCT = Path(__file__).parents[2] / "jenkins_helpers"


def gitops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitops_helper", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=False,
    )


def gitops_yaml(envs: list[dict[str, str]], **extra: object) -> str:
    return yaml.safe_dump({"mainBranch": "main", "environments": envs, **extra})


# --- the branch scheme ------------------------------------------------------------------


def branches_the_tool_pushes() -> set[str]:
    """The first part of every MR branch the tool names: naming.py's, and each operation's
    (`<kind>/<env>/...` in the product's source), so a new kind cannot be forgotten."""
    made = {
        naming.source_branch("dev", "app"),
        naming.platform_branch("dev"),
        naming.sync_branch("dev"),
        naming.group_branch("dev", "release-1"),
    }
    kinds = set()
    for file in PRODUCT.rglob("*.py"):
        text = file.read_text()
        kinds |= set(re.findall(r'source_branch=f"([a-z]+)/\{', text))
        kinds |= set(re.findall(r'operation_change\(\s*\w+,\s*\w+,\s*"([a-z]+)"', text))
    assert {"set", "rollback", "onboard", "decommission", "revert"} <= kinds, kinds
    return {b.split("/")[0] for b in made} | kinds


def test_every_prefix_of_the_tools_branches_is_reserved() -> None:
    assert branches_the_tool_pushes() <= set(RESERVED_BRANCH_PREFIXES)


@pytest.mark.parametrize("name", sorted(branches_the_tool_pushes()))
def test_init_repo_refuses_an_environment_named_like_the_tools_branches(
    tmp_path: Path, name: str
) -> None:
    """An environment `promote` is a branch `promote`: git then cannot create any
    `promote/<env>/<app>` and every promotion fails."""
    target = tmp_path / "k8s-deployments"
    done = gitops("init-repo", str(target), "--envs", f"dev,{name}")
    assert done.returncode == 2, done.stderr
    assert f"invalid environment '{name}': reserved" in done.stderr
    assert "unexpected" not in done.stderr
    assert not target.exists()


@pytest.mark.parametrize("length", [ENV_NAME_MAX + 1, 40, 63])
def test_init_repo_refuses_an_environment_name_over_the_label_budget(
    tmp_path: Path, length: int
) -> None:
    """`<env>-<app>` is every object's app.kubernetes.io/instance label (63 at most)."""
    target = tmp_path / "k8s-deployments"
    done = gitops("init-repo", str(target), "--envs", "dev," + "p" * length)
    assert done.returncode == 2, done.stderr
    assert f"at most {ENV_NAME_MAX} characters ({length} given)" in done.stderr
    assert "app.kubernetes.io/instance" in done.stderr
    assert not target.exists()


reserved = st.sampled_from(RESERVED_BRANCH_PREFIXES)


@settings(max_examples=60, deadline=None)
@given(
    first=reserved,
    case=st.sampled_from(["lower", "upper", "title"]),
    rest=st.lists(st.text(DNS, min_size=1, max_size=8), max_size=3),
    where=st.sampled_from(["env branch", "main"]),
)
def test_gitops_yaml_refuses_a_branch_in_the_tools_branch_scheme(
    first: str, case: str, rest: list[str], where: str
) -> None:
    branch = "/".join([getattr(first, case)(), *rest])
    envs = [{"name": "dev", "branch": branch if where == "env branch" else "dev"}]
    text = gitops_yaml(envs, mainBranch=branch if where == "main" else "main")
    with pytest.raises(BadInput, match=r"gitops\.yaml: invalid branch") as info:
        parse_settings(text, "gitops.yaml")
    assert first in info.value.message


@settings(max_examples=60, deadline=None)
@given(name=st.one_of(reserved, st.text(DNS, min_size=ENV_NAME_MAX + 1, max_size=63)))
def test_gitops_yaml_refuses_the_environment_names_init_repo_refuses(name: str) -> None:
    with pytest.raises(BadInput, match="invalid environment") as info:
        parse_settings(gitops_yaml([{"name": name, "branch": "env-1"}]), "gitops.yaml")
    assert info.value.exit_code == 2
    with pytest.raises(BadInput, match="invalid environment"):
        default_settings(["dev", name])


@pytest.mark.parametrize(
    "branch", ["promoted", "release/promote", "envs/set", "rollbacks", "p" * 40, "revert-x"]
)
def test_branches_that_merely_contain_a_reserved_word_pass(branch: str) -> None:
    found = parse_settings(gitops_yaml([{"name": "dev", "branch": branch}]), "x")
    assert found.environments[0].branch == branch


def test_validate_refuses_a_hand_edited_gitops_yaml_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "gitops.yaml").write_text(gitops_yaml([{"name": "dev", "branch": "promote"}]))
    done = gitops("validate", "--repo", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "gitops.yaml: invalid branch 'promote'" in done.stderr


# --- policies ---------------------------------------------------------------------------


def test_init_repo_writes_every_policy_on_and_reads_it_back(tmp_path: Path) -> None:
    text = default_settings(["dev", "prod"]).to_yaml()
    assert "run-as-root: {enabled: true, allow: []}" in text
    (tmp_path / "gitops.yaml").write_text(text)
    assert load_settings(tmp_path) == default_settings(["dev", "prod"])


def test_policies_of_gitops_yaml_reach_every_environment() -> None:
    text = gitops_yaml(
        [{"name": "dev"}, {"name": "prod"}],
        policies={
            "run-as-root": {"allow": ["legacy-app", "postgres"]},
            "apparmor-unconfined": {"enabled": False},
            "foreign-secret": None,
        },
    )
    found = parse_settings(text, "gitops.yaml")
    expected = Policies(
        disabled=frozenset({"apparmor-unconfined"}),
        allowed=frozenset({("run-as-root", "legacy-app"), ("run-as-root", "postgres")}),
    )
    assert found.policies == expected
    assert all(e.policies == expected for e in found.environments)
    assert parse_settings(found.to_yaml(), "again") == found


@pytest.mark.parametrize(
    "policies, message",
    [
        ("nope", "`policies` must be a mapping"),
        ({"run-as-rot": {}}, "unknown rule 'run-as-rot'"),
        ({"run-as-root": {"enabled": "no"}}, "enabled` must be true or false"),
        ({"run-as-root": {"allow": "legacy-app"}}, "allow` must be a list"),
        ({"run-as-root": {"allow": ["Legacy App"]}}, "invalid app name"),
        ({"run-as-root": {"except": ["a"]}}, "may only set `enabled` and `allow`"),
    ],
)
def test_a_malformed_policies_section_is_bad_input(policies: object, message: str) -> None:
    with pytest.raises(BadInput, match=re.escape(message)) as info:
        parse_settings(gitops_yaml([{"name": "dev"}], policies=policies), "gitops.yaml")
    assert info.value.message.startswith("gitops.yaml: ")


# --- where init-repo cannot create a repository ------------------------------------------

LONG = "a" * 300  # over NAME_MAX (255) of every common file system


@pytest.mark.parametrize(
    "where, reason",
    [
        ("/proc/gitops-x", "cannot create the repository at .*No such file or directory"),
        # Over-long paths are refused by the CLI's check of every path, before init-repo.
        ("{tmp}/" + LONG, "DIRECTORY .*a name of 300 bytes \\(at most 255\\)"),
        ("{tmp}/new/b/" + LONG, "DIRECTORY .*a name of 300 bytes \\(at most 255\\)"),
        ("{tmp}/" + "a/" * 3000 + "x", "DIRECTORY .*bytes long \\(at most 4095\\)"),
        ("{tmp}/afile/new", "cannot create the repository at .*Not a directory"),
        ("/dev/null/x", "cannot create the repository at .*Not a directory"),
    ],
    ids=["proc", "long-name", "long-name-under-new-dirs", "long-path", "under-a-file", "dev-null"],
)
def test_init_repo_where_no_directory_can_be_is_bad_input(
    tmp_path: Path, where: str, reason: str
) -> None:
    (tmp_path / "afile").write_text("a file\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    crash_logs = tmp_path.parent / f"crash-{tmp_path.name}"
    crash_logs.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "gitops_helper", "init-repo", where.format(tmp=tmp_path)],
        env={**os.environ, "TMPDIR": str(crash_logs)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert re.match(f"error: {reason}", done.stderr), done.stderr
    assert "hint:" in done.stderr and "unexpected" not in done.stderr
    assert len(done.stderr) < 400, "the path is shown shortened"
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "no directory left behind"
    assert list(crash_logs.iterdir()) == []
