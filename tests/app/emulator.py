"""A small, strict, stateful emulator of the GitHub REST API, for end-to-end tests.

It serves what goreef's worker calls, answers with GitHub's payload shapes, and refuses what
GitHub refuses: an App JWT that does not verify, an unknown or expired installation token, a
review comment outside the diff, an unknown commit, more than 50 annotations in one request.
Pull requests are built from real file trees; patches are unified diffs computed like git's.
Faults (5xx, rate limits, 401) can be injected into the next calls. The GraphQL endpoint
serves the review threads of a pull request and their resolution, and nothing else. Git
trees and blobs are git's own objects (the same shas git computes), served by the trees API
(recursive listings truncated past `tree_entry_limit` entries, as GitHub truncates them) and
the blobs API. The App manifest flow is served too: the new-App pages (the user's
confirmation taken as given) and the conversion of their one-time code into the App's
credentials.

The test drives it through Python methods (`create_repo`, `open_pull`, `push`, `fail_next`)
and reads what goreef did through its state (`check_runs`, `reviews`, `comments`).
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import graphql
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, abort, g, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from tests.app.serving import serve

BOT_LOGIN = "goreef[bot]"
MAX_LISTED_FILES = 3000  # GitHub lists at most this many files of a pull request
CONTENTS_INLINE_LIMIT = 1024 * 1024  # the contents API leaves larger files out
# GitHub leaves a file's `patch` out of the files list when its diff is over a limit ("No single
# file's diff may exceed ... 100 KB of raw diff data"), as it does for a binary file.
PATCH_LIMIT = 100 * 1024
MAX_ANNOTATIONS = 50
MAX_TREE_ENTRIES = 100_000  # GitHub truncates a recursive tree listing past this many entries
ANNOTATION_LEVELS = {"notice", "warning", "failure"}
CHECK_STATUSES = {"queued", "in_progress", "completed"}
CHECK_CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"}
HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
MAX_PAGE = 100  # GraphQL connections give at most this many nodes per page
# The part of GitHub's GraphQL schema goreef uses, with GitHub's names and types: anything
# else is refused as GitHub refuses a field it does not have.
GRAPHQL_SCHEMA = graphql.build_schema("""
    type Query { repository(owner: String!, name: String!): Repository }
    type Mutation { resolveReviewThread(input: ResolveReviewThreadInput!): ResolveReviewThreadPayload }
    type Repository { pullRequest(number: Int!): PullRequest }
    type PullRequest { reviewThreads(first: Int, after: String): PullRequestReviewThreadConnection! }
    type PullRequestReviewThreadConnection { nodes: [PullRequestReviewThread], pageInfo: PageInfo!, totalCount: Int! }
    type PageInfo { hasNextPage: Boolean!, endCursor: String }
    type PullRequestReviewThread { id: ID!, isResolved: Boolean!, comments(first: Int): PullRequestReviewCommentConnection! }
    type PullRequestReviewCommentConnection { nodes: [PullRequestReviewComment] }
    type PullRequestReviewComment { id: ID!, databaseId: Int, body: String! }
    input ResolveReviewThreadInput { threadId: ID!, clientMutationId: String }
    type ResolveReviewThreadPayload { thread: PullRequestReviewThread, clientMutationId: String }
""")

Tree = dict[str, bytes]


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def tree_sha(entries: list[tuple[str, str, str]]) -> str:
    """Git's sha of a tree of (mode, name, sha) entries, ordered as git orders them."""
    ordered = sorted(entries, key=lambda e: e[1] + ("/" if e[0] == TREE_MODE else ""))
    # The API shows a tree's mode as 040000; git's object writes it 40000.
    body = b"".join(f"{mode.lstrip('0')} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, sha in ordered)
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


BLOB_MODE, TREE_MODE = "100644", "040000"


def unified_patch(old: bytes, new: bytes) -> str:
    """The hunks of a unified diff with 3 lines of context, as GitHub's `patch` field has them."""
    old_lines = old.decode(errors="replace").splitlines(keepends=True)
    new_lines = new.decode(errors="replace").splitlines(keepends=True)
    out = []
    for line in itertools.islice(difflib.unified_diff(old_lines, new_lines, n=3), 2, None):  # skip ---/+++
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out).removesuffix("\n")


def right_side_hunks(patch: str) -> dict[int, int]:
    """New-side line number → index of its hunk, for every line a review comment may target."""
    lines: dict[int, int] = {}
    new = 0
    hunk = -1
    for text in patch.splitlines():
        if header := HUNK_HEADER.match(text):
            hunk += 1
            new = int(header.group(3))
        elif text.startswith(("+", " ")):
            lines[new] = hunk
            new += 1
    return lines


@dataclass
class Commit:
    sha: str
    tree: Tree
    parent: str | None
    message: str
    tree_sha: str = ""  # the root tree object's sha


@dataclass
class Pull:
    number: int
    base_ref: str
    head_ref: str
    commits: list[str]  # oldest first; the last is the head
    state: str = "open"
    fork_owner: str | None = None  # the head branch lives in this account's fork

    def head_repo_json(self, base: dict[str, Any]) -> dict[str, Any]:
        if self.fork_owner is None:
            return base
        full_name = f"{self.fork_owner}/{base['name']}"
        return {**base, "id": base["id"] + 1, "full_name": full_name, "owner": {"login": self.fork_owner}, "fork": True}

    @property
    def head_sha(self) -> str:
        return self.commits[-1]


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    installation_id: int
    default_branch: str
    branches: dict[str, str]  # name → commit sha
    commits: dict[str, Commit] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # pull number → reviews
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id → review comment
    blobs: dict[str, bytes] = field(default_factory=dict)  # sha → contents
    trees: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha → entries (path, mode, type, sha)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Fault:
    status: int
    headers: dict[str, str]
    message: str
    remaining: int
    method: str | None = None  # None: any method
    path: re.Pattern[str] | None = None  # None: any path
    after_effect: bool = False  # the request is served, then its answer replaced by the fault

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and self.method in (None, method)
            and (self.path is None or self.path.search(path) is not None)
        )


class GitHubEmulator:
    def __init__(self, app_id: int, public_key_pem: str, *, token_lifetime: float = 3600):
        self.app_id = app_id
        self._public_key = public_key_pem
        self._token_lifetime = token_lifetime
        self._lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._installations: dict[int, str] = {}  # id → account login
        self._suspended: set[int] = set()  # installations whose tokens GitHub refuses
        self._tokens: dict[str, tuple[int, float]] = {}  # token → (installation id, expiry)
        self._repos: dict[str, Repo] = {}
        self._faults: list[Fault] = []
        self._hooks: list[tuple[str, re.Pattern[str], Callable[[], None]]] = []
        self._delays: list[tuple[float, str | None, re.Pattern[str]]] = []  # (seconds, method, path)
        self._refused_comments: dict[tuple[str, str, int], str] = {}  # (repo, path, line) → error
        self._diffs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}  # (repo, base, head) → files
        self.issued_tokens: list[str] = []  # every installation token and App JWT seen, for leak checks
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) in order
        self._manifest_codes: dict[str, dict[str, Any]] = {}  # one-time code → the App made from a manifest
        self.registered_apps: list[dict[str, Any]] = []  # Apps made from manifests, with the manifest
        self.tree_entry_limit = MAX_TREE_ENTRIES
        self.url = ""
        self._server = None

    # Life cycle

    def start(self) -> GitHubEmulator:
        self._server, self.url = serve(self._flask_app())
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()

    # Driving the emulated GitHub from a test

    def install(self, installation_id: int, account: str) -> None:
        with self._lock:
            self._installations[installation_id] = account

    def grant_token(self, installation_id: int) -> str:
        """A token of the installation, as GitHub Actions hands a job its GITHUB_TOKEN."""
        with self._lock:
            token = "ghs_" + secrets.token_urlsafe(27)
            self._tokens[token] = (installation_id, time.time() + self._token_lifetime)
            self.issued_tokens.append(token)
            return token

    def suspend(self, installation_id: int) -> None:
        """Suspend the installation, as its owner or GitHub can: no token is granted for it, and
        the tokens it has stop working."""
        with self._lock:
            self._suspended.add(installation_id)

    def unsuspend(self, installation_id: int) -> None:
        with self._lock:
            self._suspended.discard(installation_id)

    def create_repo(self, full_name: str, files: Tree, *, installation_id: int, default_branch: str = "main") -> None:
        owner, name = full_name.split("/")
        with self._lock:
            repo = Repo(next(self._ids), owner, name, installation_id, default_branch, {})
            self._repos[full_name] = repo
            repo.branches[default_branch] = self._commit(repo, dict(files), None, "initial commit")

    def open_pull(
        self,
        full_name: str,
        files: Tree,
        *,
        head_ref: str = "feature",
        base_ref: str | None = None,
        fork_owner: str | None = None,
    ) -> int:
        """Open a pull request whose head is the base branch with `files` written over it
        (pushed to `fork_owner`'s fork, when given)."""
        with self._lock:
            repo = self._repos[full_name]
            base_ref = base_ref or repo.default_branch
            base_sha = repo.branches[base_ref]
            head_sha = self._commit(repo, {**repo.commits[base_sha].tree, **files}, base_sha, "change")
            number = len(repo.pulls) + 1
            repo.pulls[number] = Pull(number, base_ref, head_ref, [head_sha], fork_owner=fork_owner)
            repo.branches[head_ref] = head_sha
            return number

    def push(self, full_name: str, number: int, files: Tree, *, deleted: tuple[str, ...] = ()) -> str:
        """Push a commit onto the pull request's head branch; answers its sha."""
        with self._lock:
            repo = self._repos[full_name]
            pull = repo.pulls[number]
            tree = {**repo.commits[pull.head_sha].tree, **files}
            for path in deleted:
                del tree[path]
            sha = self._commit(repo, tree, pull.head_sha, "push")
            pull.commits.append(sha)
            repo.branches[pull.head_ref] = sha
            return sha

    def pull(self, full_name: str, number: int) -> Pull:
        return self._repos[full_name].pulls[number]

    def repo(self, full_name: str) -> Repo:
        return self._repos[full_name]

    def pull_json(self, full_name: str, number: int) -> dict[str, Any]:
        with self._lock:
            repo = self._repos[full_name]
            return self._pull_json(repo, repo.pulls[number])

    def check_runs(self, full_name: str, head_sha: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            runs = self._repos[full_name].check_runs.values()
            return [dict(run) for run in runs if head_sha in (None, run["head_sha"])]

    def reviews(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._repos[full_name].reviews.get(number, []))

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._repos[full_name].comments.values() if c["pull_number"] == number]

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        message: str = "",
        method: str | None = None,
        path: str | None = None,
        after_effect: bool = False,
    ) -> None:
        """The next `count` API calls (of `method` on a path matching `path`, when given) answer
        `status` instead of being served; with `after_effect`, they are served and only their
        answer is lost, as when a gateway times out after GitHub acted."""
        with self._lock:
            pattern = re.compile(path) if path is not None else None
            self._faults.append(
                Fault(status, headers or {}, message or "injected fault", count, method, pattern, after_effect)
            )

    def delay(self, seconds: float, *, method: str | None = None, path: str = "") -> None:
        """Answer every API call (of `method` on a path matching `path`) `seconds` late, as a
        slow or distant GitHub does."""
        with self._lock:
            self._delays.append((seconds, method, re.compile(path)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hooks.clear()
            self._delays.clear()
            self._refused_comments.clear()

    def refuse_comment(self, full_name: str, path: str, line: int, error: str) -> None:
        """Reviews holding a comment on `path`:`line` are refused with 422 and `error`, as GitHub
        sometimes does even for a line inside the diff."""
        with self._lock:
            self._refused_comments[(full_name, path, line)] = error

    def before(self, method: str, path_pattern: str, action: Callable[[], None]) -> None:
        """Run `action` once, just before serving the first request that matches."""
        with self._lock:
            self._hooks.append((method, re.compile(path_pattern), action))

    def hold(self, method: str, path_pattern: str, *, seconds: float = 30) -> tuple[threading.Event, threading.Event]:
        """Hold the next matching request until released (at most `seconds`): answers the events
        (reached, release). The rest of the API is served meanwhile."""
        reached, release = threading.Event(), threading.Event()

        def wait_for_release() -> None:
            reached.set()
            release.wait(seconds)

        self.before(method, path_pattern, wait_for_release)
        return reached, release

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens = {token: (inst, 0.0) for token, (inst, _) in self._tokens.items()}

    def diff_files(self, full_name: str, base_sha: str, head_sha: str) -> list[dict[str, Any]]:
        """The files list of a comparison, shaped like the pull request files endpoint."""
        key = (full_name, base_sha, head_sha)
        if key not in self._diffs:  # commits never change: each comparison is computed once
            self._diffs[key] = self._diff_files(self._repos[full_name], base_sha, head_sha)
        return self._diffs[key]

    def _diff_files(self, repo: Repo, base_sha: str, head_sha: str) -> list[dict[str, Any]]:
        base, head = repo.commits[base_sha].tree, repo.commits[head_sha].tree
        added = {p for p in head if p not in base}
        removed = {p for p in base if p not in head}
        renames = {}
        for new_path in sorted(added):
            old_path = next((p for p in sorted(removed) if base[p] == head[new_path]), None)
            if old_path:
                renames[new_path] = old_path
                removed.discard(old_path)
        files = []
        for path in sorted(set(head) | removed):
            old_path = renames.get(path, path)
            old, new = base.get(old_path), head.get(path)
            if old == new and path not in renames:  # a pure rename is listed, without a patch
                continue
            entry = {
                "sha": blob_sha(new if new is not None else old),
                "filename": path,
                "status": "renamed"
                if path in renames
                else "added"
                if old is None
                else "removed"
                if new is None
                else "modified",
            }
            if path in renames:
                entry["previous_filename"] = old_path
            if b"\0" not in (old or b"") + (new or b"") and (old or b"") != (new or b""):
                patch = unified_patch(old or b"", new or b"")
                if len(patch.encode()) <= PATCH_LIMIT:
                    entry["patch"] = patch
            patch_lines = entry.get("patch", "").splitlines()
            entry["additions"] = sum(1 for line in patch_lines if line.startswith("+"))
            entry["deletions"] = sum(1 for line in patch_lines if line.startswith("-"))
            entry["changes"] = entry["additions"] + entry["deletions"]
            files.append(entry)
        return files

    def _commit(self, repo: Repo, tree: Tree, parent: str | None, message: str) -> str:
        digest = hashlib.sha1(repr((parent, message, sorted(tree.items()), next(self._ids))).encode())
        sha = digest.hexdigest()
        repo.commits[sha] = Commit(sha, tree, parent, message, self._store_tree(repo, tree))
        return sha

    def _store_tree(self, repo: Repo, tree: Tree) -> str:
        """Store the blobs and tree objects of `tree` in the repository; answers the root tree's sha."""
        directories: dict[str, list[dict[str, Any]]] = {"": []}
        for path, data in tree.items():
            sha = blob_sha(data)
            repo.blobs[sha] = data
            parts = path.split("/")
            for depth in range(1, len(parts)):
                directories.setdefault("/".join(parts[:depth]), [])
            entry = {"path": parts[-1], "mode": BLOB_MODE, "type": "blob", "sha": sha, "size": len(data)}
            directories["/".join(parts[:-1])].append(entry)
        # Deepest first, so that each directory's sha is known before its parent's.
        for directory in sorted(directories, key=lambda d: -d.count("/") if d else 1):
            entries = directories[directory]
            sha = tree_sha([(e["mode"], e["path"], e["sha"]) for e in entries])
            repo.trees[sha] = sorted(entries, key=lambda e: e["path"])
            if directory:
                parent, _, name = directory.rpartition("/")
                directories[parent].append({"path": name, "mode": TREE_MODE, "type": "tree", "sha": sha})
            else:
                return sha
        raise AssertionError("unreachable: the root directory is always last")

    def _tree_entries(self, repo: Repo, sha: str, prefix: str = "") -> list[dict[str, Any]]:
        """Every entry under the tree `sha`, with paths from it, directories before their contents."""
        entries = []
        for entry in repo.trees[sha]:
            entries.append({**entry, "path": prefix + entry["path"]})
            if entry["type"] == "tree":
                entries += self._tree_entries(repo, entry["sha"], f"{prefix}{entry['path']}/")
        return entries

    # The HTTP side

    def _flask_app(self) -> Flask:
        app = Flask("github-emulator")
        emulator = self

        @app.before_request
        def inject_faults_and_authenticate() -> Response | None:
            with emulator._lock:
                due = [hook for hook in emulator._hooks if request.method == hook[0] and hook[1].search(request.path)]
                for hook in due:
                    emulator._hooks.remove(hook)
            for _, _, action in due:  # outside the lock: an action may block this one request
                action()
            with emulator._lock:
                late = sum(s for s, m, p in emulator._delays if m in (None, request.method) and p.search(request.path))
            time.sleep(late)
            with emulator._lock:
                _scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
                if credential and credential not in emulator.issued_tokens:
                    emulator.issued_tokens.append(credential)
                fault = next((f for f in emulator._faults if f.matches(request.method, request.path)), None)
                if fault:
                    fault.remaining -= 1
                    if not fault.after_effect:
                        return _error(fault.status, fault.message, fault.headers)
                    g.lost_answer = fault
            if request.path.startswith("/app/"):
                emulator._verify_app_jwt()
            return None

        @app.after_request
        def record(response: Response) -> Response:
            if (fault := g.pop("lost_answer", None)) is not None:
                response = _error(fault.status, fault.message, fault.headers)
            with emulator._lock:
                emulator.requests.append((request.method, request.full_path.rstrip("?"), response.status_code))
            return response

        @app.errorhandler(HTTPException)
        def json_error(exc: HTTPException) -> Response:
            return _error(exc.code or 500, exc.description or exc.name)

        @app.post("/settings/apps/new")
        @app.post("/organizations/<organization>/settings/apps/new")
        def new_app_from_manifest(organization: str | None = None) -> Response:
            """GitHub's new-App page, confirmed: creates the App and sends the browser back to the
            manifest's redirect_url with a one-time code and the state it was given."""
            manifest = json.loads(request.form.get("manifest") or "null")
            if not isinstance(manifest, dict) or not manifest.get("url") or not manifest.get("redirect_url"):
                abort(422, "Invalid manifest")
            if not manifest.get("hook_attributes", {}).get("url"):
                abort(422, "Invalid manifest: hook_attributes.url is missing")
            with emulator._lock:
                app_id = next(emulator._ids)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            slug = f"{manifest['name']}-{app_id}"
            registered = {
                "id": app_id,
                "slug": slug,
                "name": manifest["name"],
                "owner": {"login": organization or "octocat", "type": "Organization" if organization else "User"},
                "html_url": f"{emulator.url}/apps/{slug}",
                "webhook_secret": secrets.token_hex(20),
                "pem": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                ).decode(),
                "client_id": f"Iv1.{secrets.token_hex(8)}",
                "client_secret": secrets.token_hex(20),
                "permissions": manifest.get("default_permissions", {}),
                "events": manifest.get("default_events", []),
            }
            code = secrets.token_hex(10)
            with emulator._lock:
                emulator._manifest_codes[code] = registered
                emulator.registered_apps.append({**registered, "manifest": manifest})
            state = request.args.get("state", "")
            return redirect(f"{manifest['redirect_url']}?{urlencode({'code': code, 'state': state})}")

        @app.post("/app-manifests/<code>/conversions")
        def convert_manifest_code(code: str) -> tuple[Response, int]:
            with emulator._lock:
                registered = emulator._manifest_codes.pop(code, None)  # good once
            if registered is None:
                abort(404, "Not Found")
            return jsonify(registered), 201

        @app.post("/app/installations/<int:installation_id>/access_tokens")
        def access_token(installation_id: int) -> tuple[Response, int]:
            with emulator._lock:
                if installation_id not in emulator._installations:
                    abort(404, "Not Found")
                if installation_id in emulator._suspended:
                    abort(403, "This installation has been suspended")
                token = "ghs_" + secrets.token_urlsafe(27)
                expires = time.time() + emulator._token_lifetime
                emulator._tokens[token] = (installation_id, expires)
                emulator.issued_tokens.append(token)
            body = {
                "token": token,
                "expires_at": _iso(expires),
                "permissions": {"checks": "write", "pull_requests": "write", "contents": "read", "metadata": "read"},
                "repository_selection": "all",
            }
            return jsonify(body), 201

        @app.get("/repos/<owner>/<name>")
        def get_repo(owner: str, name: str) -> Response:
            return jsonify(emulator._repo_json(emulator._repo_for_token(owner, name)))

        @app.get("/repos/<owner>/<name>/pulls")
        def list_pulls(owner: str, name: str) -> Response:
            """GitHub's list of pull requests: open ones by default (state=open|closed|all),
            newest first, forks' included, paginated."""
            repo = emulator._repo_for_token(owner, name)
            state = request.args.get("state", "open")
            if state not in ("open", "closed", "all"):
                abort(422, "Validation Failed")
            with emulator._lock:
                pulls = [
                    emulator._pull_json(repo, pull)
                    for pull in sorted(repo.pulls.values(), key=lambda p: -p.number)
                    if state == "all" or pull.state == state
                ]
            return _paginated(pulls)

        @app.get("/repos/<owner>/<name>/pulls/<int:number>")
        def get_pull(owner: str, name: str, number: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            return jsonify(emulator._pull_json(repo, _pull(repo, number)))

        @app.get("/repos/<owner>/<name>/pulls/<int:number>/files")
        def pull_files(owner: str, name: str, number: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            pull = _pull(repo, number)
            base_sha = repo.branches[pull.base_ref]
            files = emulator.diff_files(repo.full_name, base_sha, pull.head_sha)
            return _paginated(files[:MAX_LISTED_FILES])

        @app.get("/repos/<owner>/<name>/compare/<base>...<head>")
        def compare(owner: str, name: str, base: str, head: str) -> Response:
            repo = emulator._repo_for_token(owner, name)
            files = emulator.diff_files(repo.full_name, _commit(repo, base).sha, _commit(repo, head).sha)
            return jsonify(
                {
                    "status": "ahead",
                    "ahead_by": 1,
                    "behind_by": 0,
                    "total_commits": 1,
                    "commits": [],
                    "files": files,
                    "url": f"{emulator.url}/repos/{repo.full_name}/compare/{base}...{head}",
                }
            )

        @app.get("/repos/<owner>/<name>/commits/<sha>")
        def get_commit(owner: str, name: str, sha: str) -> Response:
            repo = emulator._repo_for_token(owner, name)
            commit = _commit(repo, sha)
            return jsonify(
                {
                    "sha": commit.sha,
                    "url": f"{emulator.url}/repos/{repo.full_name}/commits/{commit.sha}",
                    "commit": {"message": commit.message},
                    "parents": [{"sha": commit.parent}] if commit.parent else [],
                }
            )

        @app.get("/repos/<owner>/<name>/contents/<path:path>")
        def get_contents(owner: str, name: str, path: str) -> Response:
            repo = emulator._repo_for_token(owner, name)
            ref = request.args.get("ref") or repo.default_branch
            commit = _commit(repo, repo.branches.get(ref, ref))
            if path not in commit.tree:
                abort(404, "Not Found")
            data = commit.tree[path]
            inline = len(data) <= CONTENTS_INLINE_LIMIT
            return jsonify(
                {
                    "type": "file",
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "sha": blob_sha(data),
                    "size": len(data),
                    "encoding": "base64" if inline else "none",
                    "content": _base64_lines(data) if inline else "",
                    "url": f"{emulator.url}/repos/{repo.full_name}/contents/{path}?ref={ref}",
                }
            )

        @app.get("/repos/<owner>/<name>/git/blobs/<sha>")
        def get_blob(owner: str, name: str, sha: str) -> Response:
            repo = emulator._repo_for_token(owner, name)
            blob = repo.blobs.get(sha)
            if blob is None:
                abort(404, "Not Found")
            return jsonify(
                {
                    "sha": sha,
                    "size": len(blob),
                    "encoding": "base64",
                    "content": _base64_lines(blob),
                    "url": f"{emulator.url}/repos/{repo.full_name}/git/blobs/{sha}",
                }
            )

        @app.get("/repos/<owner>/<name>/git/trees/<path:tree_ish>")
        def get_tree(owner: str, name: str, tree_ish: str) -> Response:
            # Like GitHub: a tree's sha, or a commit's sha or a branch name for its root tree.
            repo = emulator._repo_for_token(owner, name)
            commit = repo.commits.get(repo.branches.get(tree_ish, tree_ish))
            sha = commit.tree_sha if commit is not None else tree_ish
            if sha not in repo.trees:
                abort(404, "Not Found")
            truncated = False
            if "recursive" in request.args:
                entries = emulator._tree_entries(repo, sha)
                if len(entries) > emulator.tree_entry_limit:
                    entries, truncated = entries[: emulator.tree_entry_limit], True
            else:
                entries = repo.trees[sha]
            url = f"{emulator.url}/repos/{repo.full_name}/git"
            listed = [{**e, "url": f"{url}/{'trees' if e['type'] == 'tree' else 'blobs'}/{e['sha']}"} for e in entries]
            return jsonify({"sha": sha, "url": f"{url}/trees/{sha}", "tree": listed, "truncated": truncated})

        @app.post("/repos/<owner>/<name>/check-runs")
        def create_check_run(owner: str, name: str) -> tuple[Response, int]:
            repo = emulator._repo_for_token(owner, name)
            body = _json_body()
            if not body.get("name") or not body.get("head_sha"):
                abort(422, "name and head_sha are required")
            if body["head_sha"] not in repo.commits:
                abort(422, "No commit found for SHA: " + body["head_sha"])
            with emulator._lock:
                run = {
                    "id": next(emulator._ids),
                    "name": body["name"],
                    "head_sha": body["head_sha"],
                    "status": "queued",
                    "conclusion": None,
                    "output": {},
                    "annotations": [],
                    "updates": [],
                }
                _apply_check_run_update(run, body)
                repo.check_runs[run["id"]] = run
            return jsonify(emulator._check_run_json(repo, run)), 201

        @app.patch("/repos/<owner>/<name>/check-runs/<int:run_id>")
        def update_check_run(owner: str, name: str, run_id: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            with emulator._lock:
                run = repo.check_runs.get(run_id) or abort(404, "Not Found")
                _apply_check_run_update(run, _json_body())
            return jsonify(emulator._check_run_json(repo, run))

        @app.get("/repos/<owner>/<name>/check-runs/<int:run_id>")
        def get_check_run(owner: str, name: str, run_id: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            run = repo.check_runs.get(run_id) or abort(404, "Not Found")
            return jsonify(emulator._check_run_json(repo, run))

        @app.get("/repos/<owner>/<name>/pulls/<int:number>/comments")
        def list_review_comments(owner: str, name: str, number: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            _pull(repo, number)
            return _paginated([emulator._comment_json(repo, c) for c in emulator.comments(repo.full_name, number)])

        @app.patch("/repos/<owner>/<name>/pulls/comments/<int:comment_id>")
        def edit_review_comment(owner: str, name: str, comment_id: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            body = _json_body().get("body") or abort(422, "body is required")
            with emulator._lock:
                comment = repo.comments.get(comment_id) or abort(404, "Not Found")
                comment["body"] = body
                comment["edits"] += 1
            return jsonify(emulator._comment_json(repo, comment))

        @app.get("/repos/<owner>/<name>/pulls/<int:number>/reviews")
        def list_reviews(owner: str, name: str, number: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            _pull(repo, number)
            return _paginated(emulator.reviews(repo.full_name, number))

        @app.post("/repos/<owner>/<name>/pulls/<int:number>/reviews")
        def create_review(owner: str, name: str, number: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            pull = _pull(repo, number)
            body = _json_body()
            commit_id = body.get("commit_id", pull.head_sha)
            if commit_id not in pull.commits:
                abort(422, f"Unprocessable Entity: commit_id {commit_id} is not part of the pull request")
            if body.get("event", "PENDING") not in {"APPROVE", "REQUEST_CHANGES", "COMMENT", "PENDING"}:
                abort(422, "Unprocessable Entity: unknown event")
            files = {
                f["filename"]: f for f in emulator.diff_files(repo.full_name, repo.branches[pull.base_ref], commit_id)
            }
            for comment in body.get("comments", []):
                _check_review_comment(comment, files)
                if (refusal := emulator._refusal(repo, comment)) is not None:
                    return _error(422, "Unprocessable Entity", errors=[refusal])
            state = {"COMMENT": "COMMENTED"}.get(body.get("event"), body.get("event", "PENDING"))
            with emulator._lock:
                # A pending review blocks every new review of its author, submitted or not.
                if any(r["state"] == "PENDING" for r in repo.reviews.get(number, [])):
                    abort(422, "Unprocessable Entity: User can only have one pending review per pull request")
                review = {
                    "id": next(emulator._ids),
                    "commit_id": commit_id,
                    "body": body.get("body", ""),
                    "state": state,
                    "user": {"login": BOT_LOGIN, "type": "Bot"},
                    "pull_request_url": f"{emulator.url}/repos/{repo.full_name}/pulls/{number}",
                }
                repo.reviews.setdefault(number, []).append(review)
                if state == "PENDING":  # its comments show once it is submitted, which goreef never does
                    return jsonify(review)
                for comment in body.get("comments", []):
                    comment_id = next(emulator._ids)
                    repo.comments[comment_id] = {
                        "id": comment_id,
                        "pull_number": number,
                        "pull_request_review_id": review["id"],
                        "commit_id": commit_id,
                        "path": comment["path"],
                        "line": comment["line"],
                        "start_line": comment.get("start_line"),
                        "side": comment.get("side", "RIGHT"),
                        "body": comment["body"],
                        "edits": 0,
                        "resolved": False,  # each opens a thread of its own
                    }
            return jsonify(review)

        @app.post("/graphql")
        def graphql_endpoint() -> Response:
            installation_id = emulator._installation_for_token("This endpoint requires you to be authenticated.")
            body = _json_body()
            result = graphql.graphql_sync(
                GRAPHQL_SCHEMA,
                body.get("query") or "",
                root_value=_GraphQLRoot(emulator, installation_id),
                variable_values=body.get("variables"),
            )
            answer: dict[str, Any] = {"data": result.data}
            if result.errors:  # GitHub gives an error's kind as `type` beside its message
                answer["errors"] = [
                    {**{k: v for k, v in e.formatted.items() if k != "extensions"}, **(e.extensions or {})}
                    for e in result.errors
                ]
            return jsonify(answer)

        @app.delete("/repos/<owner>/<name>/pulls/<int:number>/reviews/<int:review_id>")
        def delete_pending_review(owner: str, name: str, number: int, review_id: int) -> Response:
            repo = emulator._repo_for_token(owner, name)
            with emulator._lock:
                reviews = repo.reviews.get(number, [])
                review = next((r for r in reviews if r["id"] == review_id), None) or abort(404, "Not Found")
                if review["state"] != "PENDING":
                    abort(422, "Unprocessable Entity: Can not delete a non-pending review")
                reviews.remove(review)
            return jsonify(review)

        return app

    def _refusal(self, repo: Repo, comment: dict[str, Any]) -> str | None:
        with self._lock:
            return self._refused_comments.get((repo.full_name, comment["path"], comment["line"]))

    def _verify_app_jwt(self) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            abort(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                token, self._public_key, algorithms=["RS256"], options={"require": ["iat", "exp", "iss"]}
            )
        except jwt.PyJWTError as exc:
            abort(401, f"A JSON web token could not be decoded: {exc}")
        if str(claims["iss"]) != str(self.app_id):
            abort(401, "Integration not found")
        if claims["exp"] - claims["iat"] > 600 or claims["iat"] > time.time() + 30:
            abort(401, "'Expiration time' claim ('exp') is too far in the future")

    def _installation_for_token(self, missing: str = "Bad credentials") -> int:
        """The installation whose token authenticates the request; 401 (`missing` when there is none)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token:
            abort(401, missing)
        installation_id, expires = self._tokens.get(token, (None, 0.0))
        if scheme.lower() not in {"token", "bearer"} or installation_id is None or expires < time.time():
            abort(401, "Bad credentials")
        if installation_id in self._suspended:
            abort(403, "This installation has been suspended")
        return installation_id

    def _repo_for_token(self, owner: str, name: str) -> Repo:
        installation_id = self._installation_for_token()
        repo = self._repos.get(f"{owner}/{name}")
        if repo is None or repo.installation_id != installation_id:
            abort(404, "Not Found")
        return repo

    def _repo_json(self, repo: Repo) -> dict[str, Any]:
        return {
            "id": repo.id,
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": {"login": repo.owner, "type": "Organization"},
            "private": True,
            "default_branch": repo.default_branch,
            "url": f"{self.url}/repos/{repo.full_name}",
        }

    def _pull_json(self, repo: Repo, pull: Pull) -> dict[str, Any]:
        repo_json = self._repo_json(repo)
        return {
            "number": pull.number,
            "id": repo.id * 10_000 + pull.number,
            "state": pull.state,
            "draft": False,
            "url": f"{self.url}/repos/{repo.full_name}/pulls/{pull.number}",
            "head": {"sha": pull.head_sha, "ref": pull.head_ref, "repo": pull.head_repo_json(repo_json)},
            "base": {"sha": repo.branches[pull.base_ref], "ref": pull.base_ref, "repo": repo_json},
            "user": {"login": "octocat", "type": "User"},
        }

    def _check_run_json(self, repo: Repo, run: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": run["id"],
            "name": run["name"],
            "head_sha": run["head_sha"],
            "status": run["status"],
            "conclusion": run["conclusion"],
            "url": f"{self.url}/repos/{repo.full_name}/check-runs/{run['id']}",
            "output": {**run["output"], "annotations_count": len(run["annotations"])},
            "check_suite": {"id": 1, "head_sha": run["head_sha"]},
            "external_id": run.get("external_id", ""),
            "pull_requests": self.pull_refs(repo.full_name, run["head_sha"]),
        }

    def pull_refs(self, full_name: str, head_sha: str) -> list[dict[str, Any]]:
        """The pull requests GitHub lists in a check run or check suite of `head_sha`: the open ones
        of the repository whose head it is. Those from forks are left out, as GitHub leaves them out."""
        with self._lock:
            repo = self._repos[full_name]
            return [
                {
                    "number": pull.number,
                    "head": {"ref": pull.head_ref, "sha": pull.head_sha},
                    "base": {"ref": pull.base_ref, "sha": repo.branches[pull.base_ref]},
                }
                for pull in repo.pulls.values()
                if pull.head_sha == head_sha and pull.state == "open" and pull.fork_owner is None
            ]

    def check_run_json(self, full_name: str, run_id: int) -> dict[str, Any]:
        with self._lock:
            repo = self._repos[full_name]
            return self._check_run_json(repo, repo.check_runs[run_id])

    def _comment_json(self, repo: Repo, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            **{
                k: comment[k]
                for k in ("id", "pull_request_review_id", "commit_id", "path", "line", "start_line", "side", "body")
            },
            # GitHub moves `commit_id` along with later pushes; this one stays where it was posted.
            "original_commit_id": comment["commit_id"],
            "url": f"{self.url}/repos/{repo.full_name}/pulls/comments/{comment['id']}",
            "user": {"login": BOT_LOGIN, "type": "Bot"},
        }


class _GraphQLRoot:
    """Resolves the GraphQL schema's root fields for one installation: the review threads of a
    pull request (goreef's comments, one thread each) and their resolution."""

    def __init__(self, emulator: GitHubEmulator, installation_id: int):
        self._emulator = emulator
        self._installation_id = installation_id

    def repository(self, info: graphql.GraphQLResolveInfo, owner: str, name: str) -> dict[str, Any]:
        repo = self._emulator._repos.get(f"{owner}/{name}")
        if repo is None or repo.installation_id != self._installation_id:
            raise _not_found(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return {"pullRequest": lambda info, number: self._pull_request(repo, number)}

    def resolveReviewThread(self, info: graphql.GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        with self._emulator._lock:
            comment = next(
                (
                    c
                    for repo in self._emulator._repos.values()
                    if repo.installation_id == self._installation_id
                    for c in repo.comments.values()
                    if _thread_id(c) == input["threadId"]
                ),
                None,
            )
            if comment is None:
                raise _not_found(f"Could not resolve to a node with the global id of '{input['threadId']}'")
            comment["resolved"] = True
            return {"thread": _thread(comment), "clientMutationId": input.get("clientMutationId")}

    def _pull_request(self, repo: Repo, number: int) -> dict[str, Any] | None:
        if number not in repo.pulls:
            raise _not_found(f"Could not resolve to a PullRequest with the number of {number}.")
        threads = [_thread(c) for c in self._emulator.comments(repo.full_name, number)]
        return {
            "reviewThreads": lambda info, first=None, after=None: _connection(threads, first, after, "reviewThreads")
        }


def _thread_id(comment: dict[str, Any]) -> str:
    return f"PRRT_{comment['id']}"


def _thread(comment: dict[str, Any]) -> dict[str, Any]:
    node = {"id": f"PRRC_{comment['id']}", "databaseId": comment["id"], "body": comment["body"]}
    return {
        "id": _thread_id(comment),
        "isResolved": comment["resolved"],
        "comments": lambda info, first=None: _connection([node], first, None, "comments"),
    }


def _connection(nodes: list[dict[str, Any]], first: int | None, after: str | None, name: str) -> dict[str, Any]:
    """One page of `nodes` as GitHub pages a connection: `first` required, at most 100, opaque cursors."""
    if first is None or not 1 <= first <= MAX_PAGE:
        raise graphql.GraphQLError(
            f"You must provide a `first` value between 1 and {MAX_PAGE} to properly paginate the `{name}` connection."
        )
    start = int(base64.b64decode(after)) if after else 0
    page = nodes[start : start + first]
    end = start + len(page)
    return {
        "nodes": page,
        "totalCount": len(nodes),
        "pageInfo": {"hasNextPage": end < len(nodes), "endCursor": base64.b64encode(str(end).encode()).decode()},
    }


def _not_found(message: str) -> graphql.GraphQLError:
    return graphql.GraphQLError(message, extensions={"type": "NOT_FOUND"})


def _check_review_comment(comment: dict[str, Any], files: dict[str, dict[str, Any]]) -> None:
    if not comment.get("body") or "path" not in comment or "line" not in comment:
        abort(422, "Unprocessable Entity: each comment needs path, line and body")
    entry = files.get(comment["path"])
    if entry is None:
        abort(422, f"Unprocessable Entity: Path could not be resolved: {comment['path']}")
    if comment.get("side", "RIGHT") != "RIGHT":
        abort(422, "Unprocessable Entity: goreef's emulator only serves RIGHT-side comments")
    hunks = right_side_hunks(entry.get("patch", ""))
    line, start = comment["line"], comment.get("start_line")
    if line not in hunks:
        abort(422, f"Unprocessable Entity: Line could not be resolved: {comment['path']}:{line}")
    if start is not None and not (start < line and hunks.get(start) == hunks[line]):
        abort(422, f"Unprocessable Entity: start_line must precede line in the same hunk: {comment['path']}")


def _apply_check_run_update(run: dict[str, Any], body: dict[str, Any]) -> None:
    status = body.get("status", "completed" if "conclusion" in body else run["status"])
    if status not in CHECK_STATUSES:
        abort(422, f"Invalid status: {status}")
    conclusion = body.get("conclusion", run["conclusion"])
    if status == "completed" and conclusion not in CHECK_CONCLUSIONS:
        abort(422, "conclusion is required when status is completed")
    output = body.get("output")
    annotations = []
    if output is not None:
        if not output.get("title") or not output.get("summary"):
            abort(422, "output.title and output.summary are required")
        if len(output["summary"]) > 65535 or len(output.get("text") or "") > 65535:
            abort(422, "output.summary and output.text are limited to 65535 characters")
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS:
            abort(422, f"Only {MAX_ANNOTATIONS} annotations may be sent per request, got {len(annotations)}")
        for annotation in annotations:
            _check_annotation(annotation)
    if "external_id" in body:
        run["external_id"] = str(body["external_id"])
    run["status"], run["conclusion"] = status, conclusion if status == "completed" else None
    if output is not None:
        run["output"] = {k: output[k] for k in ("title", "summary", "text") if k in output}
        run["annotations"].extend(annotations)
    run["updates"].append(body)


def _check_annotation(annotation: dict[str, Any]) -> None:
    missing = {"path", "start_line", "end_line", "annotation_level", "message"} - annotation.keys()
    if missing:
        abort(422, f"annotation is missing {sorted(missing)}")
    if annotation["annotation_level"] not in ANNOTATION_LEVELS:
        abort(422, f"Invalid annotation_level: {annotation['annotation_level']}")
    if annotation["start_line"] > annotation["end_line"]:
        abort(422, "annotation start_line is after end_line")


def _pull(repo: Repo, number: int) -> Pull:
    return repo.pulls.get(number) or abort(404, "Not Found")


def _commit(repo: Repo, sha: str) -> Commit:
    return repo.commits.get(sha) or abort(422, f"No commit found for SHA: {sha}")


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, "Problems parsing JSON")
    return body


def _paginated(items: list[Any]) -> Response:
    """One page of `items` with GitHub's Link header (per_page ≤ 100, pages from 1)."""
    per_page = min(int(request.args.get("per_page", 30)), 100)
    page = int(request.args.get("page", 1))
    response = jsonify(items[(page - 1) * per_page : page * per_page])
    last = max(1, -(-len(items) // per_page))
    links = []
    # The other parameters of the request (state=...) stay in the links, as GitHub keeps them.
    kept = "".join(f"&{urlencode({k: v})}" for k, v in request.args.items() if k not in ("per_page", "page"))
    if page < last:
        links.append(f'<{request.base_url}?per_page={per_page}&page={page + 1}{kept}>; rel="next"')
        links.append(f'<{request.base_url}?per_page={per_page}&page={last}{kept}>; rel="last"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


def _base64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n"


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, errors: list[str] | None = None
) -> Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response
