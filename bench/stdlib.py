"""Analysis throughput and findings over the Go standard library.

    python bench/stdlib.py               # throughput, parse-only ratio, peak memory, findings
    python bench/stdlib.py --write-docs  # also rewrite docs/false-positives.md
    python bench/stdlib.py --vet         # also time `go vet std`, cold and warm

All figures come from one run, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import count_lines, goroot_src, stdlib_files
from reviewers import Config, check_files
from reviewers.gosource import parse
from reviewers.registry import all_rules

DOCS = Path(__file__).resolve().parent.parent / "docs" / "false-positives.md"


def goroot_version() -> str:
    return (goroot_src().parent / "VERSION").read_text().splitlines()[0].removeprefix("go")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_only(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        parse(path.read_bytes())
    return time.perf_counter() - start


def analyze(paths: list[Path], root: Path):
    config = Config(rules={rule.id: rule.severity.value for rule in all_rules() if rule.off_by_default})
    start = time.perf_counter()
    result = check_files([(str(p.relative_to(root)), p.read_bytes) for p in paths], config=config)
    return result, time.perf_counter() - start


def go_vet_std() -> tuple[float, float]:
    """`go vet std` with an empty build cache, then again with the cache it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "", "GOCACHE": cache}
        timings = []
        for _ in ("cold", "warm"):
            start = time.perf_counter()
            subprocess.run(["go", "vet", "std"], env=env, capture_output=True)
            timings.append(time.perf_counter() - start)
        return timings[0], timings[1]


def findings_table(result, lines: int) -> str:
    by_rule = Counter(f.rule for f in result.findings)
    rows = ["| rule | severity | findings | per 10,000 lines |", "|---|---|---:|---:|"]
    for rule in all_rules():
        count = by_rule.get(rule.id, 0)
        rows.append(f"| {rule.id} {rule.name} | {rule.severity.value} | {count} | {count * 10_000 / lines:.2f} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--vet", action="store_true")
    parser.add_argument("--limit", type=int, help="only the first N files (quick runs)")
    args = parser.parse_args()

    root = goroot_src()
    paths = stdlib_files(root)[: args.limit]
    lines = count_lines(paths)
    parse_seconds = parse_only(paths)
    result, analysis_seconds = analyze(paths, root)
    print(f"corpus: {len(paths)} files, {lines:,} lines ({root})")
    print(f"parse only:      {parse_seconds:6.2f} s  {lines / parse_seconds:>10,.0f} lines/s")
    print(f"all rules:       {analysis_seconds:6.2f} s  {lines / analysis_seconds:>10,.0f} lines/s")
    print(f"ratio analysis / parse-only: {analysis_seconds / parse_seconds:.2f}x")
    print(f"peak memory (RSS): {peak_rss_mb():.0f} MB")
    if args.vet:
        cold, warm = go_vet_std()
        print(
            f"go vet std: cold {cold:.1f} s, warm {warm:.1f} s; goreef/cold {analysis_seconds / cold:.2f}x, goreef/warm {analysis_seconds / warm:.2f}x"
        )
    for note in result.notes:
        if "failed" in note:
            print(f"note: {note}")
    table = findings_table(result, lines)
    print()
    print(table)
    if args.write_docs:
        # The table lives between markers; the judgement around it is written by hand.
        text = DOCS.read_text()
        start, end = "<!-- table:start -->", "<!-- table:end -->"
        header = f"{len(paths):,} files, {lines:,} lines, Go {goroot_version()}\n\n"
        text = text[: text.index(start) + len(start)] + "\n" + header + table + "\n" + text[text.index(end) :]
        DOCS.write_text(text)
        print(f"\nwrote {DOCS}")


if __name__ == "__main__":
    main()
