"""Analysis throughput and findings over the Go standard library.

    python bench/stdlib.py               # throughput, parse-only ratio, peak memory, findings
    python bench/stdlib.py --write-docs  # also rewrite docs/false-positives.md
    python bench/stdlib.py --vet         # also time `go vet std`, cold and warm
    python bench/stdlib.py --process     # also whole processes: `goreef check` (one process
                                         # a core, and with --jobs 1) against a process that
                                         # only parses, over net, database, context, os and
                                         # sync (non-test files)

All figures come from one run, so ratios compare like with like. Whole processes are run
several times each, alternately; the best wall time of each is compared (the machine's other
work only ever adds to it), and their CPU time is shown beside it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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


def parse_only(paths: list[Path]) -> tuple[float, float]:
    """(wall, CPU) seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        parse(path.read_bytes())
    return time.perf_counter() - start, time.process_time() - cpu


def analyze(paths: list[Path], root: Path):
    config = Config(rules={rule.id: rule.severity.value for rule in all_rules() if rule.off_by_default})
    start, cpu = time.perf_counter(), time.process_time()
    result = check_files([(str(p.relative_to(root)), p.read_bytes) for p in paths], config=config)
    return result, time.perf_counter() - start, time.process_time() - cpu


# The packages of the whole-process comparison, and the process it is compared with: Python
# importing tree-sitter and parsing each file, nothing else.
PROCESS_PACKAGES = ("net", "database", "context", "os", "sync")
PARSE_PROCESS = """
import sys
import tree_sitter, tree_sitter_go
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_go.language()))
for path in sys.argv[1:]:
    with open(path, "rb") as source:
        parser.parse(source.read())
"""


def _timed(command: list[str], directory: Path, bytecode: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one child process, run in `directory` with this checkout's
    `reviewers` first on its path; with `bytecode`, its modules' bytecode is kept (in
    `directory`) as an installed package's is, else as this environment says."""
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    if bytecode:
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        environment["PYTHONPYCACHEPREFIX"] = str(directory / "pycache")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, cwd=directory, env=environment, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def whole_processes(root: Path, runs: int) -> None:
    """`goreef check` over the packages' non-test files against the parse-only process, and
    `goreef check` of one tiny file (the start-up: imports, rules, configuration lookup).
    Where this environment keeps no bytecode (PYTHONDONTWRITEBYTECODE), goreef is also run
    with it kept, as a package installed by pip has it."""
    paths = [str(p) for package in PROCESS_PACKAGES for p in stdlib_files(root / package)]
    directory = Path(tempfile.mkdtemp())  # outside any repository: no configuration to find
    tiny = directory / "tiny.go"
    tiny.write_text("package tiny\n")
    check = [sys.executable, "-m", "reviewers.cli", "check", "--format", "json", "--fail-on", "never"]
    commands = {  # name: (command, whether goreef's bytecode is kept)
        "parse only": ([sys.executable, "-c", PARSE_PROCESS, *paths], False),
        "goreef check": ([*check, *paths], False),  # one process a core (`--jobs` by default)
        "goreef check --jobs 1": ([*check, "--jobs", "1", *paths], False),  # this process alone
        "goreef start-up": ([*check, str(tiny)], False),
    }
    if sys.dont_write_bytecode:
        commands["goreef check, bytecode kept"] = ([*check, *paths], True)
        commands["goreef start-up, kept"] = ([*check, str(tiny)], True)
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for run in range(runs + 1):
        for name, (command, kept) in commands.items():
            timing = _timed(command, directory, kept)
            if run:  # the first round only warms the file and bytecode caches
                timings[name].append(timing)
    print(f"\nwhole processes, {len(paths)} files of {', '.join(PROCESS_PACKAGES)}, best of {runs} (median):")
    best: dict[str, tuple[float, float]] = {}
    for name, measured in timings.items():
        walls, cpus = [w for w, _ in measured], [c for _, c in measured]
        best[name] = min(walls), min(cpus)
        print(
            f"  {name:28} wall {min(walls):5.2f} s ({statistics.median(walls):5.2f})  "
            f"CPU {min(cpus):5.2f} s ({statistics.median(cpus):5.2f})"
        )
    parse_wall, parse_cpu = best["parse only"]
    for name in ("goreef check", "goreef check --jobs 1", "goreef check, bytecode kept"):
        if name in best:
            wall, cpu = best[name]
            print(f"  ratio {name} / parse only: wall {wall / parse_wall:.2f}x, CPU {cpu / parse_cpu:.2f}x")


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
    parser.add_argument("--process", action="store_true", help="also time whole processes (see above)")
    parser.add_argument("--runs", type=int, default=5, help="runs of each whole process (default 5)")
    parser.add_argument("--limit", type=int, help="only the first N files (quick runs)")
    args = parser.parse_args()

    root = goroot_src()
    paths = stdlib_files(root)[: args.limit]
    lines = count_lines(paths)
    parse_seconds, parse_cpu = parse_only(paths)
    result, analysis_seconds, analysis_cpu = analyze(paths, root)
    print(f"corpus: {len(paths)} files, {lines:,} lines ({root})")
    print(f"parse only:      {parse_seconds:6.2f} s  {lines / parse_seconds:>10,.0f} lines/s")
    print(f"all rules:       {analysis_seconds:6.2f} s  {lines / analysis_seconds:>10,.0f} lines/s")
    print(f"ratio analysis / parse-only: {analysis_seconds / parse_seconds:.2f}x")
    print(f"the same in CPU time: {analysis_cpu:.2f} s / {parse_cpu:.2f} s = {analysis_cpu / parse_cpu:.2f}x")
    print(f"peak memory (RSS): {peak_rss_mb():.0f} MB")
    if args.vet:
        cold, warm = go_vet_std()
        print(
            f"go vet std: cold {cold:.1f} s, warm {warm:.1f} s; goreef/cold {analysis_seconds / cold:.2f}x, goreef/warm {analysis_seconds / warm:.2f}x"
        )
    if args.process:
        whole_processes(root, args.runs)
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
