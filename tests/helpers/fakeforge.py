"""An in-memory GitLab for tests: jenkins_helpers.forge.Forge over real bare git repositories.

The promotion chain's decisions are tested against it in milliseconds: no sandbox, no
HTTP. What git knows (files, blob ids, commits, parents, branches) is read from a real
bare repository per project with `git`, so clones, fetches and pushes of the tool's own
git.py work against its `file://` URL. What GitLab keeps beside git (merge requests,
labels, notes, hooks, the token's user) is kept here, with GitLab's semantics where the
chain relies on them; jenkins_helpers/gitlab.py's `GitLab` is the reference for how
each answer reaches the caller (docs.gitlab.com/api/merge_requests/, cited below).

Test helpers beside the protocol: `add_project`, `commit` (a commit onto a branch
without a work tree), `open_as` (an MR by someone else), `merge` (a merge commit or a
fast-forward, as GitLab's merge methods do), `notes` and `head`.
"""

from __future__ import annotations

import atexit
import datetime
import itertools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jenkins_helpers.deployrepo import layout
from jenkins_helpers.deployrepo.settings import Environment, Settings
from jenkins_helpers.errors import TransientError, UserError
from jenkins_helpers.forge import (
    HOOK_EVENTS,
    Access,
    Deployment,
    Forge,
    ForgeEnvironment,
    Hook,
    HookEvent,
    MergeRequest,
    Project,
)
from jenkins_helpers.promotion.publish import Change, commit_message
from jenkins_helpers.promotion.target import DeploymentProject
from jenkins_helpers.promotion.trailer import Trailer
from jenkins_helpers.secrets import mask
from tests.helpers.apprepo import app_cue

BOT, PERSON = 7, 42  # GitLab user ids: the tool's token's user, and someone else
WEB = "https://gitlab.example.com"
EPOCH = datetime.datetime(2025, 5, 1, 10, 0, tzinfo=datetime.UTC)
ZERO = "0" * 40


class FakeForgeError(Exception):
    """A request GitLab would refuse, with the status it answers (e.g. 405, 406)."""


@dataclass
class _MR:
    """GitLab's record of one MR; `base`/`head` freeze its diff once it is merged or closed."""

    iid: int
    source: str
    target: str
    title: str
    description: str
    labels: tuple[str, ...]
    author_id: int
    created: int
    updated: int
    remove_source_branch: bool
    state: str = "opened"
    merge_commit_sha: str | None = None
    merged_at: str | None = None
    base: str | None = None
    head: str | None = None
    notes: list[str] = field(default_factory=list)


class FakeForge:
    """Projects holding bare git repositories under `root`, and GitLab's records of them."""

    def __init__(self, root: Path, *, user_id: int = BOT) -> None:
        self.root = root
        self.access = Access(f"file://{root}", "fake-forge-token")
        self._user_id = user_id
        self._projects: dict[str, Project] = {}
        self._mrs: dict[str, dict[int, _MR]] = {}
        self._hooks: dict[str, dict[int, Hook]] = {}
        self._clock = itertools.count(1)  # one tick per change: created/updated order
        self._ids = itertools.count(1)
        self._environments: dict[str, dict[str, ForgeEnvironment]] = {}
        self._deployments: dict[str, list[Deployment]] = {}
        self.deployments_fail = False  # GitLab answering 500 to deployment requests

    # --- test helpers -----------------------------------------------------------------

    def add_project(self, path: str, source: Path | None = None, branch: str = "main") -> Project:
        """A project whose repository is a bare copy of `source`'s branches (or empty, its
        default branch `branch`)."""
        bare = self.repo(path)
        if source is not None:
            _git(self.root, "clone", "--quiet", "--bare", str(source), str(bare))
        else:
            _git(self.root, "init", "--quiet", "--bare", f"--initial-branch={branch}", str(bare))
        project = Project(path, next(self._ids), f"file://{bare}", f"{WEB}/{path}", branch)
        self._projects[path] = project
        self._mrs[path], self._hooks[path] = {}, {}
        self._environments[path], self._deployments[path] = {}, []
        return project

    def repo(self, path: str) -> Path:
        """The bare repository of project `path`."""
        return self.root / f"{path}.git"

    def head(self, path: str, branch: str) -> str | None:
        """The commit `branch` points at, None when there is no such branch."""
        found = _git(
            self.repo(path), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", ok=(0, 1)
        )
        return found or None

    def commit(
        self,
        path: str,
        branch: str,
        files: Mapping[str, str | None],
        message: str,
        *,
        start: str | None = None,
    ) -> str:
        """Commit `files` (None: delete) onto `branch` (created from branch `start`, default
        the default branch, when missing), as a push would; returns the new commit."""
        repo = self.repo(path)
        current = self.head(path, branch)
        parent = current or self.head(path, start or self._project(path).default_branch)
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                _git(repo, "read-tree", parent, env=env)
            for name, text in files.items():
                if text is None:
                    _git(repo, "update-index", "--force-remove", "--", name, env=env)
                    continue
                blob = _git(repo, "hash-object", "-w", "--stdin", text=text)
                _git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            tree = _git(repo, "write-tree", env=env)
        parents = ["-p", parent] if parent else []
        sha = _git(repo, "commit-tree", tree, *parents, "-F", "-", text=message)
        _git(repo, "update-ref", f"refs/heads/{branch}", sha, current or ZERO)
        return sha

    def open_as(
        self,
        author: int,
        path: str,
        *,
        source: str,
        target: str,
        title: str,
        description: str = "",
        labels: Sequence[str] = (),
    ) -> MergeRequest:
        """An MR opened by user `author` (a person: PERSON), refused as GitLab refuses a
        second open one for the same branches (FakeForgeError 409)."""
        mr = self._open(path, source, target, title, description, labels, author, remove=False)
        return self._view(path, mr)

    def merge(self, path: str, iid: int, *, fast_forward: bool = False) -> MergeRequest:
        """Accept an MR as GitLab's merge methods do: a merge commit (its message ends
        `See merge request <path>!<iid>`) or a fast-forward, which leaves
        `merge_commit_sha` null. The source branch is removed if the MR asked for it."""
        mr = self._mrs[path][iid]
        if mr.state != "opened":
            raise FakeForgeError(f"405 Method Not Allowed: !{iid} is {mr.state}")
        repo = self.repo(path)
        source, target = self.head(path, mr.source), self.head(path, mr.target)
        assert source is not None and target is not None, "both branches must exist"
        base = _git(repo, "merge-base", target, source)
        if fast_forward:
            if base != target:
                raise FakeForgeError("406 Branch cannot be merged: fast-forward needs a rebase")
            merged, mr.merge_commit_sha = source, None
        else:
            found = _git(repo, "merge-tree", "--write-tree", target, source, ok=(0, 1))
            if not found:
                raise FakeForgeError("406 Branch cannot be merged: it conflicts with the target")
            tree = found.split()[0]
            message = (
                f"Merge branch '{mr.source}' into '{mr.target}'\n\n{mr.title}\n\n"
                f"See merge request {path}!{iid}\n"
            )
            merged = _git(
                repo, "commit-tree", tree, "-p", target, "-p", source, "-F", "-", text=message
            )
            mr.merge_commit_sha = merged
        _git(repo, "update-ref", f"refs/heads/{mr.target}", merged, target)
        mr.base, mr.head, mr.state = base, source, "merged"
        mr.updated = next(self._clock)
        mr.merged_at = _time(mr.updated)
        if mr.remove_source_branch:
            _git(repo, "update-ref", "-d", f"refs/heads/{mr.source}", source)
        return self._view(path, mr)

    def notes(self, path: str, iid: int) -> list[str]:
        """The notes on an MR, oldest first."""
        return list(self._mrs[path][iid].notes)

    # --- the Forge protocol -----------------------------------------------------------

    def user_id(self) -> int:
        return self._user_id

    def project(self, path: str) -> Project:
        return self._project(path)

    def file_text(self, path: str, file_path: str, ref: str) -> str | None:
        """None for a missing file or ref: GitLab's raw file endpoint answers 404."""
        text = _git(
            self.repo(path), "cat-file", "blob", f"{ref}:{file_path}", ok=(0, 128), strip=False
        )
        return text if text or self._is_blob(path, ref, file_path) else None

    def merge_requests(
        self,
        path: str,
        *,
        labels: Sequence[str],
        target_branch: str | None,
        state: str = "opened",
        newest: int | None = None,
    ) -> list[MergeRequest]:
        """GitLab's list: MRs carrying *all* of `labels`, newest created first; `newest`:
        the first page by `updated_at` descending (`per_page`, `order_by`, `sort`)."""
        found = [
            mr
            for mr in self._mrs[self._project(path).path].values()
            if state in ("all", mr.state)
            and target_branch in (None, mr.target)
            and set(labels) <= set(mr.labels)
        ]
        if newest is None:
            found.sort(key=lambda mr: mr.created, reverse=True)
        else:
            found = sorted(found, key=lambda mr: mr.updated, reverse=True)[:newest]
        return [self._view(path, mr) for mr in found]

    def blob_ids(
        self, path: str, ref: str, under: str = "", *, recursive: bool = True
    ) -> dict[str, str]:
        """The repository tree's blobs below `under`, full paths (a missing ref or path: {},
        where GitLab answers 404)."""
        spec = [f"{under.rstrip('/')}/"] if under else []
        flags = ["-r"] if recursive else []
        listing = _git(
            self.repo(path), "ls-tree", "-z", *flags, ref, "--", *spec, ok=(0, 128), strip=False
        )
        found = {}
        for entry in filter(None, listing.split("\0")):
            meta, name = entry.split("\t", 1)
            _, kind, sha = meta.split()
            if kind == "blob":
                found[name] = sha
        return found

    def create_merge_request(
        self,
        path: str,
        *,
        source: str,
        target: str,
        title: str,
        description: str,
        labels: Sequence[str],
    ) -> tuple[MergeRequest, bool]:
        """As gitlab.GitLab: GitLab answers 409 ("Another open merge request already exists
        for this source branch") when an MR with the same source and target is open; then
        that one is updated instead, and the answer says False."""
        try:
            mr = self._open(
                path, source, target, title, description, labels, self._user_id, remove=True
            )
        except _Conflict as conflict:
            updated = self.update_merge_request(
                path, conflict.iid, title=title, description=description, labels=labels
            )
            return updated, False
        return self._view(path, mr), True

    def update_merge_request(
        self, path: str, iid: int, *, title: str, description: str, labels: Sequence[str]
    ) -> MergeRequest:
        mr = self._find(path, iid)
        mr.title, mr.description, mr.labels = mask(title), mask(description), tuple(labels)
        mr.updated = next(self._clock)
        return self._view(path, mr)

    def merge_request(self, path: str, iid: int) -> MergeRequest:
        return self._view(path, self._find(path, iid))

    def merge_request_paths(self, path: str, iid: int) -> list[str]:
        """The paths of GitLab's MR diff: from the merge base of target and source to the
        source's head (`git diff target...source`), frozen once merged or closed."""
        mr = self._find(path, iid)
        base, head = mr.base, mr.head
        if mr.state == "opened":
            head, target = self.head(path, mr.source), self.head(path, mr.target)
            if head is None or target is None:
                return []
            base = _git(self.repo(path), "merge-base", target, head)
        if base is None or head is None:
            return []
        # Without rename detection a move lists both names, as GitLab's old_path/new_path.
        names = _git(
            self.repo(path), "diff", "--name-only", "--no-renames", "-z", base, head, strip=False
        )
        return sorted(set(filter(None, names.split("\0"))))

    def commit_parents(self, path: str, sha: str) -> list[str]:
        return _git(self.repo(path), "rev-list", "--parents", "-n", "1", sha).split()[1:]

    def commit_message(self, path: str, sha: str) -> str:
        """The message exactly as the commit object holds it (GitLab's `message`)."""
        raw = _git(self.repo(path), "cat-file", "commit", sha, strip=False)
        return raw.partition("\n\n")[2]

    def hooks(self, path: str) -> list[Hook]:
        return list(self._hooks[path].values())

    def ensure_hook(
        self, path: str, url: str, secret: str, *, events: Sequence[HookEvent] = ("merge_requests",)
    ) -> str:
        existing = next((h for h in self._hooks[path].values() if h.url == url), None)
        hook_id = existing.id if existing else next(self._ids)
        kinds = tuple(e for e in HOOK_EVENTS if e in events)
        self._hooks[path][hook_id] = Hook(hook_id, url, kinds, url.startswith("https://"))
        return "updated" if existing else "created"

    def delete_hook(self, path: str, hook_id: int) -> None:
        self._hooks[path].pop(hook_id, None)  # gone already: gone all the same

    def close_merge_request(self, path: str, iid: int, note: str) -> None:
        """The note, then `state_event=close` (which leaves a merged MR merged)."""
        mr = self._find(path, iid)
        mr.notes.append(mask(note))
        if mr.state == "opened":
            head, target = self.head(path, mr.source), self.head(path, mr.target)
            if head and target:
                mr.base, mr.head = _git(self.repo(path), "merge-base", target, head), head
            mr.state = "closed"
        mr.updated = next(self._clock)

    def branch_head(self, path: str, branch: str) -> str | None:
        return self.head(path, branch)

    def add_note(self, path: str, iid: int, body: str) -> None:
        self._find(path, iid).notes.append(mask(body))

    def is_ancestor(self, path: str, ancestor: str, descendant: str) -> bool:
        """git merge-base --is-ancestor, as GitLab's merge base answers it."""
        found = subprocess.run(
            [
                "git",
                "-C",
                str(self.repo(path)),
                "merge-base",
                "--is-ancestor",
                ancestor,
                descendant,
            ],
            capture_output=True,
            check=False,
        )
        return found.returncode == 0

    def environments(self, path: str) -> list[ForgeEnvironment]:
        return sorted(self._environments[path].values(), key=lambda e: e.id)

    def deployments(self, path: str, environment: str, *, newest: int) -> list[Deployment]:
        """GitLab's list filtered by environment name, `order_by=id&sort=desc`, one page."""
        self._deployments_reachable()
        found = [d for d in self._deployments[path] if d.environment == environment]
        return sorted(found, key=lambda d: d.id, reverse=True)[:newest]

    def record_deployment(
        self, path: str, *, environment: str, ref: str, sha: str, tier: str | None
    ) -> Deployment:
        """A successful deployment; its environment found by name or created, with
        `tier` or the tier GitLab guesses (Environment#guess_tier)."""
        self._deployments_reachable()
        envs = self._environments[path]
        if environment not in envs:
            env_id = next(self._ids)
            page = f"{self._project(path).web_url}/-/environments/{env_id}"
            envs[environment] = ForgeEnvironment(
                env_id, environment, tier or _guess_tier(environment), page
            )
        iid = len(self._deployments[path]) + 1
        made = Deployment(next(self._ids), iid, environment, ref, sha, "success")
        self._deployments[path].append(made)
        return made

    def _deployments_reachable(self) -> None:
        if self.deployments_fail:
            raise TransientError("GitLab failed recording a deployment: HTTP 500")

    # --- GitLab's records -------------------------------------------------------------

    def _project(self, path: str) -> Project:
        if path not in self._projects:
            raise UserError(f"GitLab project {path} not found at {WEB}")
        return self._projects[path]

    def _find(self, path: str, iid: int) -> _MR:
        mr = self._mrs[self._project(path).path].get(iid)
        if mr is None:
            raise UserError(f"GitLab failed reading merge request !{iid} of {path}: HTTP 404")
        return mr

    def _open(
        self,
        path: str,
        source: str,
        target: str,
        title: str,
        description: str,
        labels: Sequence[str],
        author: int,
        *,
        remove: bool,
    ) -> _MR:
        """A new MR with the project's next iid; GitLab refuses a second open one for the
        same source and target branches (409)."""
        mrs = self._mrs[self._project(path).path]
        for other in mrs.values():
            if other.state == "opened" and (other.source, other.target) == (source, target):
                raise _Conflict(other.iid)
        if self.head(path, source) is None:
            raise FakeForgeError(f"400 Bad Request: source branch {source} does not exist")
        tick = next(self._clock)
        iid = max(mrs, default=0) + 1
        mrs[iid] = _MR(
            iid,
            source,
            target,
            mask(title),
            mask(description),
            tuple(labels),
            author,
            tick,
            tick,
            remove,
        )
        return mrs[iid]

    def _view(self, path: str, mr: _MR) -> MergeRequest:
        """The MR as the API shows it: `sha` is the source branch's head while open."""
        sha = self.head(path, mr.source) if mr.state == "opened" else mr.head
        return MergeRequest(
            iid=mr.iid,
            url=f"{WEB}/{path}/-/merge_requests/{mr.iid}",
            title=mr.title,
            source_branch=mr.source,
            target_branch=mr.target,
            labels=mr.labels,
            state=mr.state,
            description=mr.description,
            sha=sha,
            merge_commit_sha=mr.merge_commit_sha,
            merged_at=mr.merged_at,
            author_id=mr.author_id,
        )

    def _is_blob(self, path: str, ref: str, file_path: str) -> bool:
        kind = _git(self.repo(path), "cat-file", "-t", f"{ref}:{file_path}", ok=(0, 128))
        return kind == "blob"


class _Conflict(Exception):
    """GitLab's 409: an open MR for these branches exists (its iid)."""

    def __init__(self, iid: int) -> None:
        super().__init__(f"409 Another open merge request already exists: !{iid}")
        self.iid = iid


def _guess_tier(name: str) -> str:
    """Environment#guess_tier (app/models/environment.rb): the first pattern that matches."""
    guesses = (
        ("development", r"(dev|review|trunk)"),
        ("testing", r"(test|tst|int|ac(ce|)pt|qa|qc|control|quality)"),
        ("staging", r"(st(a|)g|mod(e|)l|pre|demo|non)"),
        ("production", r"(pr(o|)d|live)"),
    )
    return next((tier for tier, p in guesses if re.search(p, name, re.I)), "other")


def _time(tick: int) -> str:
    """An ISO 8601 time as GitLab writes it, `tick` seconds after EPOCH (later: greater)."""
    moment = EPOCH + datetime.timedelta(seconds=tick)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _git(
    repo: Path,
    *args: str,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    ok: tuple[int, ...] = (0,),
    strip: bool = True,
) -> str:
    """Run git in `repo`; its output (stripped unless `strip` is False), "" on an allowed
    failure."""
    done = subprocess.run(
        ["git", *args],
        cwd=repo if repo.exists() else repo.parent,
        input=text,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in ok:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    if done.returncode != 0:
        return ""
    return done.stdout.strip() if strip else done.stdout


_: type[Forge] = FakeForge  # mypy: FakeForge is a Forge


# --- a deployment project on the forge, as the decision tests need it -------------------

PROJECT = "platform/k8s-deployments"
ENVS = ("dev", "stage", "prod")
PLATFORM_FILE = "platform/app.cue"


def app_layer(app: str, extra: str = "port: 8080") -> str:
    """`services/apps/<app>.cue` as main and the environments hold it."""
    return app_cue(app, f"registry.example.com/{app}", extra)


def env_cue(tags: Mapping[str, str | None], name: str = "dev") -> str:
    """An env.cue deploying each app at its tag (None: onboarded, no image yet)."""
    entries = "".join(
        f'\napps: "{app}": env: {{\n\treplicas: 1\n'
        + (f'\tdeployment: image: tag: "{tag}"\n' if tag else "")
        + "}\n"
        for app, tag in sorted(tags.items())
    )
    return f'package deployments\n\nenvironment: name: "{name}"\n{entries}'


def deployment_project(
    forge: FakeForge, tags: Mapping[str, Mapping[str, str | None]]
) -> DeploymentProject:
    """k8s-deployments on `forge`: main with the platform layer and every app's layer, and
    per environment (dev, stage, prod) a branch deploying `tags[env]`. Built once per
    process for each `tags`, then cloned (one git call)."""
    key = repr(sorted((env, sorted(apps.items())) for env, apps in tags.items()))
    if key not in _templates:
        scratch = FakeForge(Path(tempfile.mkdtemp(prefix="fakeforge-template-")))
        atexit.register(shutil.rmtree, scratch.root, True)
        _lay_down(scratch, tags)
        _templates[key] = scratch.repo(PROJECT)
    forge.add_project(PROJECT, _templates[key])
    settings = Settings("main", tuple(Environment(env, env, env) for env in ENVS))
    return DeploymentProject(forge, forge.project(PROJECT), settings)


_templates: dict[str, Path] = {}


def _lay_down(forge: FakeForge, tags: Mapping[str, Mapping[str, str | None]]) -> None:
    apps = sorted({app for env in tags.values() for app in env})
    forge.add_project(PROJECT)
    layers: dict[str, str | None] = {layout.app_file(app): app_layer(app) for app in apps}
    forge.commit(PROJECT, "main", {PLATFORM_FILE: "package deployments\n", **layers}, "main")
    for env in ENVS:
        forge.commit(PROJECT, env, {layout.ENV_FILE: env_cue(tags.get(env, {}), env)}, env)


def propose(
    forge: FakeForge,
    target: str,
    files: Mapping[str, str | None],
    title: str,
    *,
    trailer: Trailer | None = None,
    labels: Sequence[str] = ("gitops", "promotion"),
    author: int = BOT,
    text: str = "",
    branch: str | None = None,
) -> MergeRequest:
    """An MR into `target` changing `files`, written as publish.py writes one: its head
    commit carries the MR's text (title, labels, description ending with `trailer`).
    Opened by the tool's user (BOT) through the Forge API, or by `author` by hand."""
    description = text + (f"\n\n{trailer.to_comment()}\n" if trailer else "")
    branch = branch or f"change/{target}/{next(_branches)}"
    change = Change(branch, title, description, tuple(labels), (), f"{title}\n", ())
    forge.commit(PROJECT, branch, files, commit_message(change), start=target)
    if author == forge.user_id():
        mr, _ = forge.create_merge_request(
            PROJECT,
            source=branch,
            target=target,
            title=title,
            description=description,
            labels=labels,
        )
        return mr
    return forge.open_as(
        author,
        PROJECT,
        source=branch,
        target=target,
        title=title,
        description=description,
        labels=labels,
    )


_branches = itertools.count(1)
