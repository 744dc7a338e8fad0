"""A pull-request-sized review, analysis only, and how its time grows with the file count.

    python bench/pr_review.py

Each changed file is a real file of the Go standard library; the diff marks 40 of its lines
as added (so 50 files = 2,000 changed lines). Time is the median of several runs of
`reviewers.review` on the diff text plus the head contents in memory. The files differ from
one row to the next, so the table also gives the time to parse the same files: the ratio to
it, not the time per file, is what must stay flat as the change grows.
"""

from __future__ import annotations

import difflib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import goroot_src, stdlib_files
from reviewers import review
from reviewers.gosource import parse

ADDED_PER_FILE = 40


def make_change(count: int) -> tuple[str, dict[str, bytes]]:
    """A diff over `count` stdlib files (of 120 to 2,000 lines), 40 added lines in each. The
    stdlib has fewer such files than the largest sizes ask for: past them the same files
    come again under another top folder (`copy1/...`), as the packages of a monorepo would."""
    root = goroot_src()
    pool = [p for p in stdlib_files(root) if 120 <= p.read_bytes().count(b"\n") <= 2_000]
    heads, diffs = {}, []
    for number in range(count):
        path = pool[number % len(pool)]
        copy = number // len(pool)
        relative = (f"copy{copy}/" if copy else "") + str(path.relative_to(root))
        head = path.read_text(errors="replace").splitlines(keepends=True)
        middle = len(head) // 2
        base = head[: middle - ADDED_PER_FILE // 2] + head[middle + ADDED_PER_FILE // 2 :]
        diffs.append("".join(difflib.unified_diff(base, head, f"a/{relative}", f"b/{relative}")))
        heads[relative] = "".join(head).encode()
    return "".join(diffs), heads


def time_review(diff: str, heads: dict[str, bytes], runs: int) -> tuple[float, int]:
    timings, findings = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        result = review(diff, head=heads.get)
        timings.append(time.perf_counter() - start)
        findings = len(result.findings)
    return statistics.median(timings), findings


def time_parse(heads: dict[str, bytes]) -> float:
    start = time.perf_counter()
    for source in heads.values():
        parse(source)
    return time.perf_counter() - start


def main() -> None:
    diff, heads = make_change(50)
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    seconds, findings = time_review(diff, heads, runs=5)
    print(
        f"PR review: {len(heads)} files, {added:,} added lines: {seconds * 1000:.0f} ms (median of 5), {findings} findings"
    )
    print("\n| files | added lines | ms | ms per file | ratio to parse-only |\n|---:|---:|---:|---:|---:|")
    for count in (10, 50, 200, 1000, 3000):
        diff, heads = make_change(count)
        added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
        seconds, _ = time_review(diff, heads, runs=3 if count <= 200 else 1)
        ratio = seconds / time_parse(heads)
        print(f"| {len(heads)} | {added:,} | {seconds * 1000:.0f} | {seconds * 1000 / len(heads):.1f} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
