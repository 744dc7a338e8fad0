"""The engine under fuzzing: whatever Go-ish bytes and diffs it is handed, no exception escapes.

Sources are built from fragments of the Go the rules look at (goroutines, contexts, channels,
unsafe, init) cut and joined at random, with stray bytes mixed in: invalid UTF-8, NUL,
unbalanced braces. Bounded by example count so that the whole module stays within seconds.
"""

from __future__ import annotations

import difflib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewers import Config, check_files, from_patches, review

FRAGMENTS = [
    "package p\n",
    'import (\n\t"context"\n\t"time"\n\t"unsafe"\n\t"sync"\n)\n',
    "func F(ctx context.Context) {\n",
    "func init() {\n",
    "}\n",
    "{\n",
    "go func() {\n",
    "}()\n",
    "for {\n",
    "select {\n",
    "case <-ctx.Done():\n",
    "case v := <-ch:\n",
    "default:\n",
    "return\n",
    "ch := make(chan int)\n",
    "ch <- 1\n",
    "defer cancel()\n",
    "ctx, _ = context.WithTimeout(ctx, time.Second)\n",
    "ctx, cancel := context.WithCancel(ctx)\n",
    "var wg sync.WaitGroup\n",
    "wg.Add(1)\n",
    "wg.Wait()\n",
    "time.Sleep(time.Second)\n",
    "p := unsafe.Pointer(&x)\n",
    "u := uintptr(p) + 8\n",
    "x := (*int)(unsafe.Pointer(u))\n",
    "t := time.NewTicker(time.Second)\n",
    "for range time.After(time.Second) {\n",
    "mu.Lock()\n",
    "resp, err := http.Get(url)\n",
    "rows, _ := db.Query(q)\n",
    "//goreef:ignore GR203 reason\n",
    "//nolint:goreef\n",
    "type S struct {\n\tctx context.Context\n}\n",
    "(",
    ")",
    '"',
    "`",
    "/*",
    "\n",
]
STRAY = st.sampled_from([b"\xff", b"\xfe\xc3\x28", b"\x00", b"\t", b"\r\n", b"}", b"{{{{", "é".encode()])
CHUNK = st.one_of(st.sampled_from(FRAGMENTS).map(str.encode), STRAY, st.binary(max_size=8))
GO_ISH = st.lists(CHUNK, max_size=80).map(b"".join)
FUZZ = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIGS = st.sampled_from([Config(), Config(filter="diff_context"), Config(filter="introduced"), Config(filter="file")])


def patch_between(old: bytes, new: bytes) -> str:
    """The hunks GitHub's files list gives for a change from `old` to `new`."""
    lines = [s.decode("utf-8", "replace").splitlines(keepends=True) for s in (old, new)]
    hunks = list(difflib.unified_diff(*lines, n=3))[2:]
    return "".join(h if h.endswith("\n") else h + "\n\\ No newline at end of file\n" for h in hunks)


@FUZZ
@given(base=GO_ISH, head=GO_ISH, config=CONFIGS)
def test_review_of_a_change_never_raises(base: bytes, head: bytes, config: Config) -> None:
    path = "pkg/fuzz.go"
    diff = f"--- a/{path}\n+++ b/{path}\n" + patch_between(base, head) if base != head else ""
    result = review(diff, head={path: head}.get, base={path: base}.get, config=config)

    assert all(f.path == path and f.line >= 1 for f in result.findings)


@FUZZ
@given(head=GO_ISH, status=st.sampled_from(["added", "modified", "renamed", "removed"]), with_contents=st.booleans())
def test_review_of_a_files_list_never_raises(head: bytes, status: str, with_contents: bool) -> None:
    entry = {"filename": "pkg/fuzz.go", "status": status, "patch": patch_between(b"", head)}
    if status == "renamed":
        entry["previous_filename"] = "pkg/old.go"
    # Without contents the file is rebuilt from its hunks alone.
    review(from_patches([entry]), head={"pkg/fuzz.go": head}.get if with_contents else None)


@FUZZ
@given(sources=st.lists(GO_ISH, min_size=1, max_size=4))
def test_check_files_never_raises(sources: list[bytes]) -> None:
    files = [(f"pkg/f{i}.go", lambda s=source: s) for i, source in enumerate(sources)]
    result = check_files(files, read={"go.mod": b"module m\n\ngo 1.21\n"}.get)

    assert result.files_reviewed == len(sources)
