"""What the base comparison takes away on real history, and what it costs.

    python bench/new_only.py GIT_DIR [COMMITS] [--out FILE]

Reviews each of the last COMMITS (default 300) first-parent commits of a repository (a bare
mirror will do) against its parent, as `goreef review --base` does, once as goreef runs and
once with the base comparison turned off. Prints the findings of each run, how many the
comparison removed, the review time of each, and writes every removed finding (one JSON
object a line, with its commit) to FILE, for reading.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import reviewers.engine as engine
from reviewers import review


def git(repo: str, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", repo, *args], capture_output=True, check=False).stdout


def reader(repo: str, commit: str):
    def read(path: str) -> bytes | None:
        done = subprocess.run(["git", "--git-dir", repo, "show", f"{commit}:{path}"], capture_output=True)
        return done.stdout if done.returncode == 0 else None

    return read


def lister(repo: str, commit: str):
    def list_paths(directory: str) -> list[str]:
        target = f"{commit}:{directory}" if directory else commit
        return [line for line in git(repo, "ls-tree", "--name-only", "--full-name", target).decode().splitlines()]

    return list_paths


def reviewed(repo: str, commit: str, compare: bool) -> tuple[list, float]:
    parent = git(repo, "rev-parse", f"{commit}^").decode().strip()
    diff = git(repo, "diff", "--no-color", "-M", parent, commit, "--", "*.go").decode("utf-8", "surrogateescape")
    saved = engine.preexisting
    if not compare:
        engine.preexisting = lambda head, base, untouched=(): set()  # type: ignore[assignment]
    started = time.perf_counter()
    try:
        result = review(diff, head=reader(repo, commit), base=reader(repo, parent), package_paths=lister(repo, commit))
    finally:
        engine.preexisting = saved
    return result.findings, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("commits", nargs="?", type=int, default=300)
    parser.add_argument("--out", default="removed.jsonl")
    args = parser.parse_args()
    commits = git(args.repo, "rev-list", "--first-parent", "--no-merges", f"--max-count={args.commits}", "HEAD")
    totals = {True: 0, False: 0}
    seconds = {True: 0.0, False: 0.0}
    with open(args.out, "w") as out:
        for commit in commits.decode().split():
            runs = {compare: reviewed(args.repo, commit, compare) for compare in (False, True)}
            for compare, (findings, elapsed) in runs.items():
                totals[compare] += len(findings)
                seconds[compare] += elapsed
            kept = {f.fingerprint for f in runs[True][0]}
            for finding in runs[False][0]:
                if finding.fingerprint not in kept:
                    out.write(json.dumps({"commit": commit, **finding.to_dict()}) + "\n")
    removed = totals[False] - totals[True]
    print(f"{args.repo}: {len(commits.split())} commits")
    print(f"findings without the base comparison: {totals[False]}, with it: {totals[True]}, removed: {removed}")
    print(
        f"review time without: {seconds[False]:.1f} s, with: {seconds[True]:.1f} s ({seconds[True] / max(seconds[False], 1e-9):.2f}x)"
    )
    print(f"removed findings written to {args.out}")


if __name__ == "__main__":
    main()
