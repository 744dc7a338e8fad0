"""The files of one commit as a review reads them: listed once through the Git trees API,
fetched as blobs a few at a time, up to a reading deadline.

A review knows up front which files it will read (the changed Go files, the other Go files of
their packages, the go.mod each belongs to), so they are fetched concurrently on a small
thread pool, in the order the review asks for them, and handed over as it asks. A path the
listing lacks is answered None without asking GitHub (no 404 per missing go.mod). Reads are
not budgeted like writes: GitHub's rate limits are waited out by the client's retries.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from reviewers.engine import FileUnread
from workers.github_client import RepositoryClient

READ_CONCURRENCY = 8  # requests in flight per review


class _Unread:
    """What a fetch answers when it starts after the reading deadline."""


UNREAD = _Unread()


class CommitFiles:
    """The files of commit `ref`, read through `pool` until `read_until` (time.monotonic()).

    The paths asked for after the deadline are listed in `unread`."""

    def __init__(
        self,
        repo: RepositoryClient,
        ref: str,
        pool: ThreadPoolExecutor,
        read_until: float | None,
        *,
        list_now: bool = True,
    ):
        self._repo = repo
        self._ref = ref
        self._pool = pool
        self._read_until = read_until
        # Listed while the review does other things, or when first needed.
        self._tree: Future[dict[str, str]] | None = pool.submit(repo.tree, ref) if list_now else None
        self._listing: dict[str, str] | None = None  # path → blob sha
        self._directories: dict[str, list[str]] = {}
        self._fetching: dict[str, Future[bytes | _Unread]] = {}
        self.unread: list[str] = []

    @property
    def listing(self) -> dict[str, str]:
        if self._listing is None:
            self._listing = self._tree.result() if self._tree is not None else self._repo.tree(self._ref)
            for path in sorted(self._listing):
                self._directories.setdefault(posixpath.dirname(path), []).append(path)
        return self._listing

    def directory(self, directory: str) -> list[str]:
        """The files directly in `directory` ('' for the root)."""
        _ = self.listing
        return list(self._directories.get(directory, []))

    def nearest_go_mod(self, directory: str) -> str | None:
        while True:
            candidate = posixpath.join(directory, "go.mod")
            if candidate in self.listing:
                return candidate
            if not directory:
                return None
            directory = posixpath.dirname(directory)

    def prefetch(self, paths: Iterable[str]) -> None:
        """Start fetching `paths` (those the commit has), in this order."""
        for path in paths:
            sha = self.listing.get(path)
            if sha is not None and path not in self._fetching:
                self._fetching[path] = self._pool.submit(self._fetch, sha)

    def read(self, path: str) -> bytes | None:
        """The file's bytes; None when the commit has no such file. FileUnread when it could
        not be read by the deadline (then it is listed in `unread`)."""
        if self._listing is None and self._tree is None and self._time_left() == 0:
            self.unread.append(path)  # not even listed in time
            raise FileUnread(path)
        sha = self.listing.get(path)
        if sha is None:
            return None
        future = self._fetching.pop(path, None)
        try:
            data = self._fetch(sha) if future is None else future.result(timeout=self._time_left())
        except FutureTimeout:
            data = UNREAD
        if isinstance(data, _Unread):
            self.unread.append(path)
            raise FileUnread(path)
        return data

    def _fetch(self, sha: str) -> bytes | _Unread:
        if self._time_left() == 0:
            return UNREAD
        return self._repo.blob(sha)

    def _time_left(self) -> float | None:
        if self._read_until is None:
            return None
        return max(0.0, self._read_until - time.monotonic())


def review_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=READ_CONCURRENCY, thread_name_prefix="goreef-read")
