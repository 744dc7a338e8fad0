"""The one way goreef talks to GitHub.

`GitHubApp` authenticates as the App (a short-lived RS256 JWT) and hands out
`RepositoryClient`s that act as one installation. Every process shares two things through
Redis: installation tokens (cached until shortly before they expire) and each installation's
budget of content-creating requests a minute. HTTP-level retries wait out rate limits and
back off on 5xx; a POST or PATCH that may already have taken effect is never re-sent here
(the task above is idempotent and retries as a whole instead).

The rest of goreef sees plain data (`PullRequest`, file dicts, bytes), never PyGithub objects.
"""

from __future__ import annotations

import base64
import logging
import posixpath
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import redis
from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubIntegration,
    GithubRetry,
    RateLimitExceededExceedsMaxWait,
    UnknownObjectException,
)
from github.Repository import Repository

from appcore.settings import DEFAULT_HTTP_RETRY_DELAY, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# GitHub refuses App JWTs that live longer than 10 minutes or were issued "in the future" by
# its clock: back-date by 60 s, expire 9 minutes from now (10 minutes after iat).
JWT_ISSUED_AT = -60
JWT_EXPIRY = 540
# A cached token is dropped this long before GitHub expires it, so no request starts with a
# token that dies in flight.
TOKEN_EXPIRY_MARGIN = timedelta(minutes=5)
PER_PAGE = 100
# goreef's review threads on a pull request, a page at a time: each thread's id, whether it is
# resolved, and the REST id of the comment that opened it.
REVIEW_THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
      }
    }
  }
}
"""
RESOLVE_REVIEW_THREAD_MUTATION = """
mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""
# A rate limit wait longer than this is the task's business: it retries later instead of
# holding a worker.
MAX_RATE_LIMIT_WAIT = 60


@dataclass(frozen=True)
class PullRequest:
    number: int
    state: str  # 'open' or 'closed'
    head_sha: str
    base_sha: str
    base_ref: str


@dataclass(frozen=True)
class ReviewComment:
    id: int
    body: str
    path: str
    author_is_bot: bool
    commit_sha: str  # the commit it was posted on


@dataclass(frozen=True)
class ReviewThread:
    id: str  # GraphQL node id
    resolved: bool


class ReviewRefused(Exception):
    """GitHub refused a review (422): one of its comments, usually, with GitHub's reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@contextmanager
def _refusal_as_review_refused() -> Iterator[None]:
    try:
        yield
    except GithubException as error:
        if error.status != 422:
            raise
        data = error.data if isinstance(error.data, dict) else {}
        errors = [e.get("message", str(e)) if isinstance(e, dict) else str(e) for e in data.get("errors") or []]
        raise ReviewRefused("; ".join(errors) or str(data.get("message") or error)) from error


WRITES = frozenset({"POST", "PATCH"})


class _Retry(GithubRetry):
    """GithubRetry, made to wait out every rate limit as told and to never duplicate a write.

    GitHub signals limits three ways: 403 or 429 with `Retry-After` (secondary), and 403 or
    429 with `x-ratelimit-remaining: 0` and the `x-ratelimit-reset` time (primary). A wait
    longer than `max_rate_limit_wait` raises instead: the task retries later without holding
    a worker. A POST or PATCH answered 5xx (or not answered in time) may have taken effect, so it surfaces as an error
    and the idempotent task retries as a whole instead of re-sending it (a duplicate review,
    annotations appended twice to a check run).
    """

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method in WRITES and status_code >= 500:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method: str | None = None, url: str | None = None, *args: Any, **kwargs: Any) -> _Retry:
        # A write whose answer never came (a read timeout) may have taken effect, like one
        # answered 5xx: it is not re-sent either.
        error = kwargs.get("error")
        if method in WRITES and error is not None and self._is_read_error(error):
            raise error
        return super().increment(method, url, *args, **kwargs)

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        if wait is None:
            wait = rate_limit_reset_wait(response.headers)
        if wait is not None and self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(response.status, None, dict(response.headers), wait=wait)
        return wait


def rate_limit_reset_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds until the primary rate limit resets, when the response says it is spent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    reset = str(lowered.get("x-ratelimit-reset", ""))
    if str(lowered.get("x-ratelimit-remaining")) != "0" or not reset.isdigit():
        return None
    return max(0.0, int(reset) - time.time()) + 1  # the reset is whole seconds: one more is safe


def retry_policy(settings: Settings) -> _Retry:
    return _retry_policy(settings.http_retry_delay)


def _retry_policy(http_retry_delay: float) -> _Retry:
    return _Retry(
        total=5,
        backoff_factor=http_retry_delay,
        backoff_jitter=http_retry_delay,
        backoff_max=30,
        status_forcelist=[429, *range(500, 600)],  # GithubRetry adds 403
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
        allowed_methods=frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}),
        # Hand the last response to PyGithub so that it raises a GithubException with its status.
        raise_on_status=False,
    )


def _pygithub_options(github_api_url: str, http_retry_delay: float) -> dict[str, Any]:
    return {
        "base_url": github_api_url,
        "retry": _retry_policy(http_retry_delay),
        "per_page": PER_PAGE,
        # PyGithub's own per-process throttling is replaced by the shared WriteBudget.
        "seconds_between_requests": None,
        "seconds_between_writes": None,
    }


class InstallationTokens:
    """Installation access tokens, cached in Redis for every process until shortly before expiry.

    The threads of a process that find no token (or the same one refused) at once fetch one
    new token between them, not one each."""

    def __init__(self, integration: GithubIntegration, store: redis.Redis):
        self._integration = integration
        self._store = store
        self._fetching = threading.Lock()

    def get(self, installation_id: int) -> str:
        cached = self._store.get(self._key(installation_id))
        if cached is not None:
            return cached.decode()
        with self._fetching:
            cached = self._store.get(self._key(installation_id))  # another thread may have fetched it
            return cached.decode() if cached is not None else self._fetch(installation_id)

    def _fetch(self, installation_id: int) -> str:
        key = self._key(installation_id)
        grant = self._integration.get_access_token(installation_id)
        expires_at = grant.expires_at.replace(tzinfo=grant.expires_at.tzinfo or UTC)
        ttl = expires_at - datetime.now(UTC) - TOKEN_EXPIRY_MARGIN
        if ttl.total_seconds() >= 1:
            self._store.set(key, grant.token, ex=int(ttl.total_seconds()))
        return grant.token

    def invalidate(self, installation_id: int, token: str) -> None:
        """Forget `token`, which GitHub refused, unless another thread already replaced it."""
        with self._fetching:
            if self._store.get(self._key(installation_id)) == token.encode():
                self._store.delete(self._key(installation_id))

    @staticmethod
    def _key(installation_id: int) -> str:
        return f"goreef:token:{installation_id}"


class WriteBudgetSpent(Exception):
    """An installation has made all the content-creating requests GitHub allows it this minute."""

    def __init__(self, installation_id: int, wait: float):
        super().__init__(f"installation {installation_id} has spent its write budget for {wait:.1f} s")
        self.wait = wait


class WriteBudget:
    """A sliding one-minute window of content-creating requests per installation (GitHub counts
    them per installation), shared by all workers.

    Nothing here waits: a spent budget raises WriteBudgetSpent, and the task steps aside until
    the window has room, leaving its worker to other installations."""

    WINDOW_MS = 60_000
    # Drop entries older than the window; answer 0 when `needed` more writes fit (taking one
    # when asked to), else how many milliseconds until they do.
    _TAKE = """
    local key, now, window, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
    local needed, take, member = tonumber(ARGV[4]), ARGV[5], ARGV[6]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local used = redis.call('ZCARD', key)
    if used + needed <= limit then
        if take == '1' then
            redis.call('ZADD', key, now, member)
            redis.call('PEXPIRE', key, window)
        end
        return 0
    end
    local freeing = redis.call('ZRANGE', key, used + needed - limit - 1, used + needed - limit - 1, 'WITHSCORES')
    return tonumber(freeing[2]) + window - now
    """

    def __init__(self, store: redis.Redis, per_minute: int):
        self._take = store.register_script(self._TAKE)
        self._per_minute = per_minute

    def acquire(self, installation_id: int) -> None:
        """Count one content-creating request of the installation; raises WriteBudgetSpent when
        its budget for the minute is spent."""
        wait = self._run(installation_id, needed=1, take=True)
        if wait > 0:
            raise WriteBudgetSpent(installation_id, wait)

    def wait_for(self, installation_id: int, writes: int) -> float:
        """Seconds until the installation may make `writes` requests (0 when it may now)."""
        return self._run(installation_id, needed=min(writes, self._per_minute), take=False)

    def _run(self, installation_id: int, *, needed: int, take: bool) -> float:
        now_ms = int(time.time() * 1000)
        wait_ms = self._take(
            keys=[f"goreef:write-budget:{installation_id}"],
            args=[now_ms, self.WINDOW_MS, self._per_minute, needed, "1" if take else "0", uuid.uuid4().hex],
        )
        return max(0, wait_ms) / 1000


class GitHubApp:
    """goreef as a GitHub App: the source of installation-scoped repository clients."""

    def __init__(self, settings: Settings, store: redis.Redis):
        self._options = _pygithub_options(settings.github_api_url, settings.http_retry_delay)
        auth = Auth.AppAuth(settings.app_id, settings.private_key, jwt_expiry=JWT_EXPIRY, jwt_issued_at=JWT_ISSUED_AT)
        self.tokens = InstallationTokens(GithubIntegration(auth=auth, **self._options), store)
        self.writes = WriteBudget(store, settings.writes_per_minute)

    def repository(self, installation_id: int, full_name: str) -> RepositoryClient:
        return RepositoryClient(self, installation_id, full_name)

    def client_for_token(self, token: str) -> Github:
        return Github(auth=Auth.Token(token), lazy=True, **self._options)


class WorkflowToken:
    """The token of a GitHub Actions job (GITHUB_TOKEN): given to the job, never refreshed."""

    def __init__(self, token: str):
        self._token = token

    def get(self, installation_id: int) -> str:
        return self._token

    def invalidate(self, installation_id: int, token: str) -> None:
        """Nothing to refresh: a refused job token stays refused, and the retry says so."""


class _Unbudgeted:
    """One job posts one review: GitHub's own limits are the only budget."""

    def acquire(self, installation_id: int) -> None:
        return None


class WorkflowGitHub:
    """goreef in a GitHub Actions job (workers/action.py): the same repository clients, acting
    with the workflow's token instead of an installation's, with no Redis to share."""

    def __init__(self, token: str, github_api_url: str, http_retry_delay: float = DEFAULT_HTTP_RETRY_DELAY):
        self._options = _pygithub_options(github_api_url, http_retry_delay)
        self.tokens = WorkflowToken(token)
        self.writes = _Unbudgeted()

    def repository(self, full_name: str) -> RepositoryClient:
        return RepositoryClient(self, 0, full_name)

    def client_for_token(self, token: str) -> Github:
        return Github(auth=Auth.Token(token), lazy=True, **self._options)


class RepositoryClient:
    """One repository as seen by one installation of the App.

    It keeps one PyGithub client (and so one pooled connection) per thread for as long as the
    installation's token stays the same: PyGithub's requester is not thread-safe (a request's
    method and URL are kept on the shared connection between sending and reading), so the
    threads that fetch contents concurrently each hold their own."""

    def __init__(self, app: GitHubApp | WorkflowGitHub, installation_id: int, full_name: str):
        self._app = app
        self._installation_id = installation_id
        self.full_name = full_name
        self._clients = threading.local()

    # Reads

    def pull_request(self, number: int) -> PullRequest:
        def fetch(repo: Repository) -> PullRequest:
            pull = repo.get_pull(number)
            return PullRequest(number, pull.state, pull.head.sha, pull.base.sha, pull.base.ref)

        return self._call(fetch)

    def pulls_of_head(self, head_sha: str) -> list[int]:
        """The open pull requests whose head is `head_sha`, forks' included (GitHub's check runs
        and suites list only the repository's own)."""

        def fetch(repo: Repository) -> list[int]:
            return [pull.number for pull in repo.get_pulls(state="open") if pull.head.sha == head_sha]

        return self._call(fetch)

    def changed_files(self, number: int) -> list[dict[str, Any]]:
        """The pull request's files list, as GitHub's raw dicts (filename, status, patch, ...)."""
        return self._call(lambda repo: [f.raw_data for f in repo.get_pull(number).get_files()])

    def compared_files(self, base_sha: str, head_sha: str) -> list[dict[str, Any]]:
        """The files changed from `base_sha` to `head_sha` (a merge group has no pull request)."""
        return self._call(lambda repo: [f.raw_data for f in repo.compare(base_sha, head_sha).files])

    def file(self, path: str, ref: str | None = None) -> bytes | None:
        """A file's bytes at `ref` (default branch when None), None when there is no such file."""

        def fetch(repo: Repository) -> bytes | None:
            try:
                content = repo.get_contents(path, **({"ref": ref} if ref else {}))
            except UnknownObjectException:
                return None
            if isinstance(content, list) or content.type != "file":
                return None
            if content.encoding == "base64":
                return content.decoded_content
            # Over 1 MB the contents API leaves the content out; the blob API serves it.
            return base64.b64decode(repo.get_git_blob(content.sha).content)

        return self._call(fetch)

    def tree(self, ref: str) -> dict[str, str]:
        """Every file of the commit `ref`: path → blob sha, in one request while GitHub does not
        truncate the recursive listing (past 100,000 entries), else a directory at a time."""
        listing = self._call(lambda repo: repo.get_git_tree(ref, recursive=True))
        if not listing.truncated:
            return {e.path: e.sha for e in listing.tree if e.type == "blob"}
        files: dict[str, str] = {}
        directories = [("", ref)]
        while directories:
            directory, sha = directories.pop()
            for entry in self._call(lambda repo, sha=sha: repo.get_git_tree(sha)).tree:
                path = posixpath.join(directory, entry.path)
                if entry.type == "tree":
                    directories.append((path, entry.sha))
                elif entry.type == "blob":
                    files[path] = entry.sha
        return files

    def blob(self, sha: str) -> bytes:
        """A blob's bytes, whatever its size (the contents API leaves out those over 1 MB)."""
        return self._call(lambda repo: base64.b64decode(repo.get_git_blob(sha).content))

    def review_comments(self, number: int) -> list[ReviewComment]:
        def fetch(repo: Repository) -> list[ReviewComment]:
            return [
                ReviewComment(c.id, c.body, c.path, c.user.type == "Bot", c.original_commit_id)
                for c in repo.get_pull(number).get_review_comments()
            ]

        return self._call(fetch)

    def annotation_count(self, check_run_id: int) -> int:
        """How many annotations the check run holds: GitHub appends those of every update."""
        return self._call(lambda repo: repo.get_check_run(check_run_id).output.annotations_count)

    def review_threads(self, number: int) -> dict[int, ReviewThread]:
        """The pull request's review threads, by the id of the comment that opened each (GraphQL only)."""
        owner, name = self.full_name.split("/")
        threads: dict[int, ReviewThread] = {}
        after = None
        while True:
            variables = {"owner": owner, "name": name, "number": number, "after": after}
            data = self._call(
                lambda repo, variables=variables: repo.requester.graphql_query(REVIEW_THREADS_QUERY, variables)[1]
            )
            page = data["data"]["repository"]["pullRequest"]["reviewThreads"]
            for node in page["nodes"]:
                if first := node["comments"]["nodes"]:
                    threads[first[0]["databaseId"]] = ReviewThread(node["id"], node["isResolved"])
            if not page["pageInfo"]["hasNextPage"]:
                return threads
            after = page["pageInfo"]["endCursor"]

    # Writes, each drawn from the shared budget

    def create_check_run(self, head_sha: str, **fields: Any) -> int:
        return self._write(lambda repo: repo.create_check_run(head_sha=head_sha, **fields).id)

    def update_check_run(self, check_run_id: int, **fields: Any) -> None:
        self._write(lambda repo: repo.get_check_run(check_run_id).edit(**fields))

    def create_review(self, number: int, commit_sha: str, body: str, comments: list[dict[str, Any]]) -> None:
        """Post a review (event COMMENT); raises ReviewRefused when GitHub refuses it (422)."""
        with _refusal_as_review_refused():
            self._write(
                lambda repo: repo.get_pull(number).create_review(
                    commit=repo.get_commit(commit_sha), body=body, event="COMMENT", comments=comments
                )
            )

    def review_refusal(self, number: int, commit_sha: str, comments: list[dict[str, Any]]) -> str | None:
        """Why GitHub would refuse a review holding `comments`, None if it would take it.

        Asked with a pending review, which only its author sees, deleted at once."""
        try:
            with _refusal_as_review_refused():
                pending = self._write(
                    lambda repo: repo.get_pull(number).create_review(
                        commit=repo.get_commit(commit_sha), comments=comments
                    )
                )
        except ReviewRefused as refused:
            return refused.reason
        self._write(lambda repo: pending.delete())
        return None

    def discard_pending_reviews(self, number: int) -> int:
        """Delete goreef's pending reviews of the pull request; answers how many there were.

        A probe of `review_refusal` cut short (a worker killed) stays pending, and GitHub
        refuses every new review of goreef while it does. A pending review is listed to its
        author only: any listed is goreef's."""
        reviews = self._call(lambda repo: list(repo.get_pull(number).get_reviews()))
        pending = [review for review in reviews if review.state == "PENDING"]
        for review in pending:
            self._write(lambda repo, review=review: review.delete())
        return len(pending)

    def resolve_review_thread(self, thread_id: str) -> None:
        self._write(lambda repo: repo.requester.graphql_query(RESOLVE_REVIEW_THREAD_MUTATION, {"threadId": thread_id}))

    def edit_review_comment(self, number: int, comment_id: int, body: str) -> None:
        self._write(lambda repo: repo.get_pull(number).get_review_comment(comment_id).edit(body))

    def _write(self, operation: Callable[[Repository], T]) -> T:
        def budgeted(repo: Repository) -> T:
            self._app.writes.acquire(self._installation_id)
            return operation(repo)

        return self._call(budgeted)

    def _call(self, operation: Callable[[Repository], T]) -> T:
        """Run `operation` on the repository; a token GitHub no longer accepts is replaced once."""
        token = self._app.tokens.get(self._installation_id)
        try:
            return operation(self._repository(token))
        except BadCredentialsException:
            log.warning("installation %s: token refused, fetching a new one", self._installation_id)
            self._app.tokens.invalidate(self._installation_id, token)
            return operation(self._repository(self._app.tokens.get(self._installation_id)))

    def _repository(self, token: str) -> Repository:
        clients = self._clients
        if getattr(clients, "token", None) != token:
            clients.token = token
            clients.repository = self._app.client_for_token(token).get_repo(self.full_name)
        return clients.repository
