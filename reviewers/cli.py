"""The `goreef` command line.

    goreef review [DIFF | -]           review a unified diff (file or stdin) in a local repo
    goreef review --base origin/main   review the local change since it left a branch
    goreef review --staged             review the staged change (the commit being made)
    goreef check PATH...               every rule over whole files or directories
    goreef rules [GRNNN]               the catalogue, or one rule's page
    goreef serve                       the app on this machine (web, worker, Redis)

Exit status: 0 when nothing reaches `fail_on`, 1 when something does (like a linter), 2 for
bad input, with a one-line error.
"""

from __future__ import annotations

import argparse
import functools
import os
import posixpath
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NoReturn

from . import Config, ConfigError, DiffError, check_files, goreef_version, load_config, review
from .config import CONFIG_PATH, FAIL_ON, FILTERS
from .diffs import ChangedFile, parse_diff
from .engine import ReviewResult, available_cores
from .locale import ENGLISH, LANGUAGES, LanguageError, checked_language, gettext, note, rule_summary
from .registry import all_rules, get_rule, rule_class, rule_help
from .render import render_json

FORMATS = ("text", "json", "sarif", "github")


class UsageError(Exception):
    """Bad input: reported on one line, exit status 2."""


# -- git ------------------------------------------------------------------------------------
def _git(repo: Path, *args: str) -> str:
    completed = subprocess.run(["git", *args], cwd=repo, capture_output=True)
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return completed.stdout.decode("utf-8", "surrogateescape")


def _repo_root(start: Path) -> Path | None:
    completed = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True)
    return Path(completed.stdout.strip()) if completed.returncode == 0 else None


class _GitFiles:
    """The files of one revision, read through one `git cat-file --batch` process (one `git
    show` a file costs a process each: most of a review of a large package)."""

    OBJECT_TYPES = (b"blob", b"tree", b"commit", b"tag")

    def __init__(self, repo: Path, revision: str):
        self._repo = repo
        self._revision = revision
        self._process: subprocess.Popen[bytes] | None = None

    def __call__(self, path: str) -> bytes | None:
        """The file's bytes; None when the revision has no such file (or git lacks its blob)."""
        if "\n" in path:  # the batch reads one name a line
            return None
        if self._process is None:
            self._process = subprocess.Popen(
                ["git", "cat-file", "--batch"], cwd=self._repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(f"{self._revision}:{path}\n".encode("utf-8", "surrogateescape"))
        self._process.stdin.flush()
        # "<sha> <type> <size>" then the contents and a newline; or "<name> missing" (or ambiguous).
        fields = self._process.stdout.readline().split()
        if len(fields) != 3 or fields[1] not in self.OBJECT_TYPES or not fields[2].isdigit():
            return None
        data = self._process.stdout.read(int(fields[2]) + 1)[:-1]
        return data if fields[1] == b"blob" else None

    def close(self) -> None:
        if self._process is not None:
            self._process.communicate()
            self._process = None


def _git_directory(repo: Path, revision: str) -> Callable[[str], list[str]]:
    def list_paths(directory: str) -> list[str]:
        """The directory's files at the revision; none when the revision has no such directory
        (a package the change deleted or moved away, whose old files are read at base)."""
        # `-z` with a pathspec: a directory the revision lacks lists nothing, not an error.
        where = ["--", f"{directory}/"] if directory else []
        listing = _git(repo, "ls-tree", "-z", "--name-only", "--full-tree", revision, *where)
        return [path for path in listing.split("\0") if path and posixpath.dirname(path) == directory]

    return list_paths


_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's, for a repository with no commit yet


def _index_directory(repo: Path) -> Callable[[str], list[str]]:
    """The staged files directly in a directory."""

    def list_paths(directory: str) -> list[str]:
        prefix = f"{directory}/" if directory else ""
        listing = _git(repo, "ls-files", "-z", "--", prefix or ".").split("\0")
        return [path for path in listing if path and "/" not in path.removeprefix(prefix)]

    return list_paths


def _disk_directory(root: Path) -> Callable[[str], list[str]]:
    def list_paths(directory: str) -> list[str]:
        folder = root / directory
        names = sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        return [f"{directory}/{name}" if directory else name for name in names]

    return list_paths


def _disk_file(root: Path) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        target = root / path
        return target.read_bytes() if target.is_file() else None

    return read


# -- configuration ------------------------------------------------------------------------------
def _config(args, repo: Path | None) -> Config:
    config = Config()
    path = Path(args.config) if args.config else (repo / CONFIG_PATH if repo else None)
    # --config is read whatever it is (a pipe from `--config <(...)` too); the repository's
    # file only when there is one.
    if path is not None and (args.config or path.is_file()):
        try:
            text = path.read_bytes()
        except OSError as error:
            raise UsageError(f"{args.config}: {error.strerror}") from error
        try:
            config = load_config(text)
        except ConfigError as error:
            raise UsageError(f"{path}: {error}") from error
    return config.with_overrides(filter=getattr(args, "filter", None), fail_on=args.fail_on, language=_language(args))


def _language(args) -> str | None:
    """`--lang`, which wins over the configuration's `language`; None when not given."""
    if args.lang is None:
        return None
    try:
        return checked_language(args.lang)
    except LanguageError as error:
        raise UsageError(f"--lang: {error}") from None


def _go_version(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        major, minor = text.removeprefix("go").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        raise UsageError(f"--go-version {text!r}: expected a version such as 1.22") from None


# -- commands ------------------------------------------------------------------------------------
def _review(args) -> tuple[ReviewResult, Config, list[ChangedFile]]:
    repo = Path(args.repo) if args.repo else (_repo_root(Path.cwd()) or Path.cwd())
    config = _config(args, repo)
    go_version = _go_version(args.go_version)
    if args.staged and (args.base or args.head or args.diff):
        raise UsageError("--staged reviews the index against HEAD: give no diff, --base or --head with it")
    if args.base or args.staged:
        if args.staged:
            # The commit being made: the index against HEAD (nothing before a first commit).
            # ":path" names a file's staged blob, for `git cat-file` as for `git show`.
            has_head = subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo, capture_output=True)
            base_revision = "HEAD" if has_head.returncode == 0 else _EMPTY_TREE
            range_args, head_revision, listing = ["--cached", base_revision], "", _index_directory(repo)
        else:
            base_revision = _git(repo, "merge-base", args.base, args.head or "HEAD").strip()
            range_args = [base_revision, args.head] if args.head else [base_revision]
            head_revision = args.head or "HEAD"
            listing = _git_directory(repo, args.head) if args.head else _disk_directory(repo)
        # Only the Go files: a blob goreef never reads (a testdata file a partial clone lacks)
        # must not fail the review.
        diff = _git(repo, "diff", "--no-color", "--no-ext-diff", "-M", *range_args, "--", "*.go")
        if not args.head and not args.staged:
            diff += _untracked_diff(repo)
        changed = parse_diff(diff)
        with (
            closing(_GitFiles(repo, base_revision)) as at_base,
            closing(_GitFiles(repo, head_revision)) as at_head,
        ):
            result = review(
                changed,
                head=at_head if args.head or args.staged else _disk_file(repo),
                base=at_base,
                config=config,
                go_version=go_version,
                package_paths=listing,
            )
        return result, config, changed
    if args.diff is None:
        # Never an implicit read of stdin: one left open would wait for ever.
        raise UsageError("no diff: give a diff file, '-' for standard input, --base REF or --staged")
    if args.diff == "-":
        source, diff_text = "standard input", sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    else:
        try:
            source, diff_text = args.diff, Path(args.diff).read_text(errors="surrogateescape")
        except OSError as error:
            raise UsageError(f"{args.diff}: {error.strerror}") from error
    changed = parse_diff(diff_text)
    result = review_work_tree(changed, repo, config, go_version)
    if not diff_text.strip():
        result.notes.append(f"the diff read from {source} is empty: nothing to review")
    return result, config, changed


def _untracked_diff(repo: Path) -> str:
    """New Go files of the work tree git does not track yet (and does not ignore), as added
    files: the work tree is what `review --base` reviews without --head."""
    listing = _git(repo, "ls-files", "-z", "--others", "--exclude-standard", "--", "*.go")
    diffs = []
    for path in filter(None, listing.split("\0")):
        completed = subprocess.run(
            ["git", "diff", "--no-color", "--no-ext-diff", "--no-index", "--", "/dev/null", path],
            cwd=repo,
            capture_output=True,
        )
        if completed.returncode not in (0, 1):  # 1: the files differ
            raise UsageError(f"git diff --no-index {path}: failed")
        diffs.append(completed.stdout.decode("utf-8", "surrogateescape"))
    return "".join(diffs)


def review_work_tree(
    changed: list[ChangedFile], root: Path, config: Config, go_version: tuple[int, int] | None = None
) -> ReviewResult:
    """Review `changed` (a diff's files) with the head read from the work tree at `root` and
    the base rebuilt from it by the diff. A file on disk that does not hold what the diff added
    is not taken for the head (the diff alone is reviewed then). The GitHub Action reviews a
    pull request's checkout this way too."""
    disk = _disk_file(root)
    by_path = {c.path: c for c in changed}

    def head(path: str) -> bytes | None:
        contents = disk(path)
        change = by_path.get(path)
        if contents is None or change is None or change.matches_head(contents):
            return contents
        return None

    def base(path: str) -> bytes | None:
        change = next((c for c in changed if c.old_path == path), None)
        contents = head(change.path) if change else None
        return change.base_from_head(contents) if change is not None and contents is not None else None

    return review(
        changed, head=head, base=base, config=config, go_version=go_version, package_paths=_disk_directory(root)
    )


def _go_files(paths: list[str]) -> list[str]:
    files = []
    for given in paths:
        # The go tool's pattern: `./...` is the directory and everything below it, as goreef
        # reads a directory anyway.
        path = Path(given.removesuffix("...").removesuffix("/") or ".") if given.endswith("...") else Path(given)
        if path.is_file():
            files.append(str(path))
            continue
        if not path.is_dir():
            raise UsageError(f"{given}: no such file or directory")
        for directory, subdirectories, names in os.walk(path):
            # Like the go tool: skip vendor/, testdata/ and hidden or _-prefixed folders,
            # unless the user named them.
            subdirectories[:] = sorted(
                d for d in subdirectories if d not in ("vendor", "testdata") and not d.startswith((".", "_"))
            )
            files.extend(os.path.join(directory, name) for name in sorted(names) if name.endswith(".go"))
    return files


def _check(args) -> tuple[ReviewResult, Config, None]:
    repo = _repo_root(Path.cwd())
    config = _config(args, repo).with_overrides(filter="file")
    # Paths are the repository's (as in a diff, ignore_paths and SARIF), wherever goreef runs
    # from and however the files are named; outside a repository, the working directory's.
    root = (repo or Path.cwd()).resolve()

    def read(path: str) -> bytes | None:
        target = root / path
        if target.is_file():
            return target.read_bytes()
        if path == "go.mod":  # above the root: the nearest enclosing module
            for parent in root.parents:
                if (parent / "go.mod").is_file():
                    return (parent / "go.mod").read_bytes()
        return None

    inside = os.path.join(root, "")  # the root with one trailing separator
    real_directory = functools.cache(os.path.realpath)

    def relative(path: str) -> str:
        # In plain strings, each directory resolved once: resolving every path (a system call
        # per directory on the way) and pathlib's objects took a third of a large check's start.
        absolute = os.path.abspath(path)
        if not absolute.startswith(inside):  # maybe through a link: as resolved
            directory, name = os.path.split(absolute)
            absolute = os.path.realpath(path) if os.path.islink(path) else os.path.join(real_directory(directory), name)
        shown = absolute.removeprefix(inside) if absolute.startswith(inside) else absolute
        return shown.replace(os.sep, "/")

    files = [(relative(p), Path(p).read_bytes) for p in _go_files(args.paths)]
    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: expected 0 (one process a core) or more")
    jobs = args.jobs or available_cores()
    result = check_files(files, config=config, read=read, go_version=_go_version(args.go_version), jobs=jobs)
    return result, config, None


def _print_rules(args) -> int:
    if args.rule:
        rule = get_rule(args.rule)
        if rule is None:
            raise UsageError(f"{args.rule}: no such rule (see `goreef rules`)")
        print(rule_help(rule, _language(args) or ENGLISH))
        return 0
    if args.markdown:
        print(rules_table())
        return 0
    language = _language(args) or ENGLISH
    for rule in all_rules():
        off = gettext(language, " (off by default)") if rule.off_by_default else ""
        summary = rule_summary(rule.id, rule.doc, language).split(": ", 1)[-1]
        print(f"{rule.id}  {rule.severity.value:<7}  {rule.name:<32} {summary}{off}")
    return 0


def rules_table() -> str:
    """The README's rule table, generated from the rules themselves."""
    rows = ["| id | name | severity | class | what it flags |", "|---|---|---|---|---|"]
    for rule in all_rules():
        summary = rule.summary.split(": ", 1)[-1].replace("|", "\\|")
        off = " *(off by default: " + rule.off_by_default + ")*" if rule.off_by_default else ""
        rows.append(f"| {rule.id} | `{rule.name}` | {rule.severity.value} | {rule_class(rule.id)} | {summary}{off} |")
    return "\n".join(rows)


def _emit(result: ReviewResult, config: Config, changes: list[ChangedFile] | None, args) -> int:
    docs_url = os.environ.get("GOREEF_DOCS_URL")
    language = config.language
    if args.format == "json":
        print(render_json(result.findings))
    elif args.format == "sarif":
        from .render.sarif import render_sarif

        print(render_sarif(result, docs_url, language=language))
    elif args.format == "github":
        import json

        from .render.github import check_run_payload, plan_comments, review_payload

        # What the app would post for this change on a pull request with no comment yet: the
        # review (None when it has no comment) and the completed check run. Whole files
        # (`check`) have no diff to comment on: the check run holds every finding.
        plan = (
            plan_comments(result.findings, changes, docs_url, config.comment_cap, language=language)
            if changes is not None
            else None
        )
        payload = {
            "review": review_payload(plan) if plan is not None else None,
            "check_run": check_run_payload(result, config, docs_url, plan),
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        from .render.text import render_text

        colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        sys.stdout.write(render_text(result, colour=colour, language=language))
    for text in result.notes if args.format != "text" else ():
        print(gettext(language, "note: {note}", note=note(text, language)), file=sys.stderr)
    return 1 if config.fails(result.findings) else 0


class _VersionAction(argparse.Action):
    """`--version`, with the version read only when asked: reading it (importlib.metadata)
    is a noticeable part of every run's start-up."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help="show goreef's version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"goreef {goreef_version()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goreef", description="Review Go changes for the traps that cause silent outages."
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)

    def output_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--format", choices=FORMATS, default="text")
        command.add_argument("--config", help="a goreef.yml (default: .github/goreef.yml of the repository)")
        command.add_argument("--fail-on", choices=FAIL_ON, help="lowest severity that makes the exit status 1")
        command.add_argument("--go-version", help="the Go version to assume instead of go.mod's (e.g. 1.21)")
        language_option(command)

    def language_option(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--lang",
            help=f"the language of messages and rule pages: {' | '.join(LANGUAGES)} (default: the configuration's, else en)",
        )

    review_command = commands.add_parser("review", help="review a unified diff or a git range")
    review_command.add_argument("diff", nargs="?", help="a unified diff file, or - for stdin")
    review_command.add_argument("--base", help="review the change since this ref (merge base with --head)")
    review_command.add_argument("--head", help="the head ref to review with --base (default: the work tree)")
    review_command.add_argument(
        "--staged", action="store_true", help="review the staged change (the index against HEAD), as a pre-commit hook"
    )
    review_command.add_argument("--repo", help="the repository the diff applies to (default: the current one)")
    review_command.add_argument("--filter", choices=FILTERS, help="which findings to keep (default: added)")
    output_options(review_command)

    check_command = commands.add_parser("check", help="every rule over whole Go files or directories")
    check_command.add_argument("paths", nargs="+")
    check_command.add_argument(
        "--jobs",
        type=int,
        default=0,
        help="processes that analyse packages at once (default 0: one a core; 1: this process only)",
    )
    output_options(check_command)

    rules_command = commands.add_parser("rules", help="list the rules, or show one rule's page")
    rules_command.add_argument("rule", nargs="?")
    rules_command.add_argument("--markdown", action="store_true", help="print the README's rule table")
    language_option(rules_command)

    replay_command = commands.add_parser("replay", help="run the app's pipeline once on a saved webhook payload")
    replay_command.add_argument("--event", required=True, help="the X-GitHub-Event name, e.g. pull_request")
    replay_command.add_argument(
        "--payload", required=True, help="the delivery's JSON payload, a file or - for standard input"
    )

    serve_command = commands.add_parser(
        "serve", help="run the app on this machine: web process, review worker and (without REDIS_URL) Redis"
    )
    serve_command.add_argument("--port", type=int, help="the web port (default: $PORT, else 8000)")
    serve_command.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"
    )
    serve_command.add_argument("--workers", type=int, help="reviews run at once (default: $WORKER_CONCURRENCY, else 4)")
    serve_command.add_argument(
        "--data-dir", type=Path, default=Path(".goreef"), help="the embedded Redis's data (default ./.goreef)"
    )
    return parser


@contextmanager
def _app_needed(command: str) -> Iterator[None]:
    """Import the app for `command`: `pip install goreef` leaves its libraries out."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] in ("appcore", "webapp", "workers"):
            raise
        raise UsageError(
            f"`goreef {command}` needs the app's dependencies ({error.name} is not installed): pip install 'goreef[app]'"
        ) from error


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "rules":
            return _print_rules(args)
        if args.command == "replay":
            with _app_needed("replay"):
                from workers.replay import main as replay

            return replay(["--event", args.event, "--payload", args.payload])
        if args.command == "serve":
            # Process management lives with the app: reviewers/ stays free of it.
            with _app_needed("serve"):
                from webapp.serve import serve

            return serve(host=args.host, port=args.port, workers=args.workers, data_dir=args.data_dir)
        result, config, changes = _review(args) if args.command == "review" else _check(args)
        return _emit(result, config, changes, args)
    except (UsageError, DiffError) as error:
        print(f"goreef: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def run() -> NoReturn:
    """The `goreef` command. After `check` and `review` the process ends without freeing
    the run's objects one by one (as mypy's does): nothing is left to clean up once the
    output is flushed, and the freeing takes tens of milliseconds after a large check.
    `serve` and `replay` end as Python does (their children and handlers clean up then)."""
    argv = sys.argv[1:]
    status = main(argv)
    if argv[:1] not in (["check"], ["review"]):
        sys.exit(status)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left, as `main` allows
        pass
    os._exit(status)


if __name__ == "__main__":
    run()
