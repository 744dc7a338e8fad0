"""The driver: a change (or whole files) in, findings out.

It reads top-down: diff → parse each changed Go file once → run the rules that apply →
findings with lines, severity and fingerprint → suppressions → the diff filter → the
configuration. No network, no GitHub: contents come from callables the caller provides.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

from tree_sitter import Node

from .config import Config
from .diffs import ChangedFile, parse_diff
from .finding import Finding, Severity
from .gosource import GoFile, go_version_of, is_generated
from .locale import translate_finding
from .preexisting import Identity, digest, identity, names_in, preexisting
from .registry import all_rules
from .rule import Report, Rule
from .suppressions import is_suppressed, suppressed_lines
from .syntax import ancestors, declaration_name, enclosing_declaration

if TYPE_CHECKING:
    from .semantics.names import Binding

# Changed Go files that cannot be reviewed, and the note that says why.
SKIPPED_STATUSES = {
    "binary": "binary",
    "no_patch": "GitHub's files list gives no patch for it, and its blobs were not read",
}

ReadFile = Callable[[str], "bytes | None"]  # None: there is no such file


class FileUnread(Exception):
    """What a ReadFile raises for a file that may exist but was not read (a deadline passed).
    Unlike None it does not say the file is absent, which matters for go.mod: a tree with no
    go.mod builds in GOPATH mode, a tree whose go.mod was not read says nothing."""


def _absent_if_unread(read: ReadFile | None) -> ReadFile | None:
    """`read` for the readers that take an unread file as one they must do without."""
    if read is None:
        return None

    def reading(path: str) -> bytes | None:
        try:
            return read(path)
        except FileUnread:
            return None

    return reading


# Set (to anything but 0) by the test suite: a rule that raises fails the run instead of
# becoming a note, so that no rule can fail quietly on the inputs the tests throw at it.
STRICT_RULES = "GOREEF_STRICT_RULES"


@dataclass
class ReviewResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_reviewed: int = 0
    # The notes that say a rule raised on a file: the review is incomplete there.
    rule_failures: list[str] = field(default_factory=list)


# -- from a report to a finding ---------------------------------------------------------------
_STATEMENT = re.compile(r"(_statement|_declaration|_spec|parameter_declaration)$")


def _flagged_statement(file: GoFile, node: Node) -> Node:
    """The statement (or declaration) a report's node belongs to: what its fingerprint reads."""
    if _STATEMENT.search(node.type):
        return node
    return next((a for a in ancestors(node, file) if _STATEMENT.search(a.type) and a.type != "source_file"), node)


def _flagged_text(file: GoFile, node: Node) -> str:
    """The flagged node's text for matching it against the base; for a `go` statement that
    starts a literal, its head alone (`go func(id int) {}(job.ID)`): an edit to the body
    does not make another goroutine of it."""
    call = node.named_children[0] if node.type == "go_statement" and node.named_children else None
    literal = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
    body = literal.child_by_field_name("body") if literal is not None and literal.type == "func_literal" else None
    if body is None:
        return file.text(node)
    head = file.source[node.start_byte : body.start_byte] + b"{}" + file.source[body.end_byte : node.end_byte]
    return head.decode("utf-8", "replace")


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _fingerprint_key(rule_id: str, statement: str, declaration: str) -> str:
    return f"{rule_id}\x00{declaration}\x00{_normalized(statement)}"


def _fingerprint(path: str, key: str, ordinal: int) -> str:
    return hashlib.sha256(f"{path}\x00{key}\x00{ordinal}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class _Located:
    """A finding before filtering, with the path-free key that `introduced` compares."""

    finding: Finding
    key: str
    ordinal: int
    declaration: Node | None
    identity: Identity
    context_line: int | None = None  # where the context the finding says is ignored is declared, in its file


def _locate(
    rule: Rule, severity: Severity, file: GoFile, report: Report, ordinals: dict[str, int], bodies: dict[int, str]
) -> _Located:
    statement = _flagged_statement(file, report.node)
    declaration = enclosing_declaration(report.node, file)
    declaration_text = declaration_name(file, declaration)
    statement_text = file.text(statement)
    key = _fingerprint_key(rule.id, statement_text, declaration_text)
    ordinal = ordinals.get(key, 0)
    ordinals[key] = ordinal + 1
    line = report.fix.start_line if report.fix else file.line(report.node)
    end_line = report.fix.end_line if report.fix else line
    if report.severity is not None and rule.severity != severity:
        # The configuration re-graded the rule: it wins over the rule's own nuance.
        report_severity = severity
    else:
        report_severity = report.severity or severity
    finding = Finding(
        rule=rule.id,
        severity=report_severity.value,
        path=file.path,
        line=line,
        end_line=end_line,
        message=report.message,
        remediation=report.remediation,
        suggestion=report.fix.text if report.fix else None,
        fingerprint=_fingerprint(file.path, key, ordinal),
        names=tuple(report.names.items()),
    )
    if declaration is None:
        body = ""
    elif declaration.start_byte not in bodies:
        body = bodies[declaration.start_byte] = digest(
            file.text(declaration.child_by_field_name("body") or declaration)
        )
    else:
        body = bodies[declaration.start_byte]
    return _Located(
        finding,
        key,
        ordinal,
        declaration,
        identity(rule.id, statement_text, declaration_text, body, _flagged_text(file, report.node)),
        _declared_line(file, report.context),
    )


def _declared_line(file: GoFile, context: Binding | None) -> int | None:
    if context is None or context.identifier is None or context.file is not file:
        return None
    return file.line(context.identifier)


# -- analysing one file -----------------------------------------------------------------------
class Analyzer:
    def __init__(self, config: Config | None = None, rules: Iterable[Rule] | None = None):
        self.config = config or Config()
        self.rules = [
            (rule, severity)
            for rule in (rules if rules is not None else all_rules())
            if (severity := self._severity(rule)) is not None
        ]
        self.failures: list[str] = []

    def _severity(self, rule: Rule) -> Severity | None:
        if rule.off_by_default and rule.id not in self.config.rules:
            return None
        return self.config.severity_of(rule.id, rule.severity)

    def analyze(self, file: GoFile, notes: list[str]) -> list[_Located]:
        """Every finding in the file, suppressions applied, one per rule and line."""
        if file.has_errors and not file.partial:
            where = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in file.error_lines())
            notes.append(
                f"{file.path}: does not parse cleanly (lines {where}, which the rules read as best they can);"
                " findings there may be incomplete"
            )
        suppressed = suppressed_lines(file)
        located: list[_Located] = []
        bodies: dict[int, str] = {}  # body digests by declaration, shared by the rules
        for rule, severity in self.rules:
            if not rule.applies_to(file):
                continue
            ordinals: dict[str, int] = {}
            seen_lines: set[int] = set()
            try:
                reports = list(rule.check(file))
            except Exception as error:  # a rule bug must not lose the other rules' findings
                if os.environ.get(STRICT_RULES, "0") != "0":
                    raise
                import logging  # here, not at the top: only a failing rule needs it (and it is slow to import)

                logging.getLogger(__name__).exception("%s: rule %s failed", file.path, rule.id)
                failure = f"{file.path}: {rule.id} failed ({type(error).__name__}: {error}); other rules ran"
                notes.append(failure)
                self.failures.append(failure)
                continue
            for report in sorted(reports, key=lambda r: r.node.start_byte):
                item = _locate(rule, severity, file, report, ordinals, bodies)
                if item.finding.line in seen_lines or is_suppressed(suppressed, rule.id, item.finding.line):
                    continue
                seen_lines.add(item.finding.line)
                located.append(item)
        return located


def _too_big(path: str, size: int, config: Config, notes: list[str]) -> bool:
    if size > config.max_file_bytes:
        notes.append(
            f"{path}: skipped, {size / 1e6:.1f} MB is over the {config.max_file_bytes / 1e6:g} MB limit (`max_file_bytes`)"
        )
        return True
    return False


def is_vendored(path: str) -> bool:
    """A copy of another module under a `vendor/` directory (`vendor/github.com/x/y/z.go`),
    or under godep's workspace (`Godeps/_workspace/src/github.com/x/y/z.go`, before Go had
    vendoring): its code is the dependency's, not the change author's to fix. A `vendor` or
    `_workspace/src` directory is vendoring when the next element is a module path's host (it
    has a dot)."""
    directories = path.split("/")[:-1]
    return any(
        "." in following
        and (
            part == "vendor"
            or (part == "src" and index >= 2 and directories[index - 2 : index] == ["Godeps", "_workspace"])
        )
        for index, (part, following) in enumerate(pairwise(directories))
    )


def _skipped(path: str, source: bytes, config: Config, notes: list[str]) -> bool:
    """Files not reviewed: over the size limit, vendored (`vendor/github.com/...`), or
    generated (`// Code generated ... DO NOT EDIT.`)."""
    if _too_big(path, len(source), config, notes):
        return True
    if is_vendored(path):
        notes.append(f"{path}: skipped, a vendored dependency")
        return True
    if is_generated(source):
        notes.append(f"{path}: skipped, generated code (`// Code generated ... DO NOT EDIT.`)")
        return True
    return False


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule))


def _in_language(findings: list[Finding], config: Config) -> list[Finding]:
    """The findings' messages and remediations in the configured language (the rules write
    English), the remediations in the code's names: the last step, so that nothing before it
    depends on the wording."""
    return [translate_finding(finding, config.language) for finding in findings]


class GoModules:
    """The `go` version of the module a path belongs to (nearest go.mod upwards), and whether
    there is no module at all: a tree that can be read and holds no go.mod up to its root
    builds in GOPATH mode."""

    def __init__(self, read: ReadFile | None, version: tuple[int, int] | None = None):
        self._read = read
        self._fixed = version
        # directory -> (a go.mod was found, its `go` version)
        self._by_directory: dict[str, tuple[bool, tuple[int, int] | None]] = {}

    def version_for(self, path: str) -> tuple[int, int] | None:
        if self._fixed is not None or self._read is None:
            return self._fixed
        return self._directory_module(posixpath.dirname(path))[1]

    def without_module(self, path: str) -> bool:
        """Whether no go.mod encloses the path (and no version was given instead)."""
        if self._fixed is not None or self._read is None:
            return False
        return not self._directory_module(posixpath.dirname(path))[0]

    def _directory_module(self, directory: str) -> tuple[bool, tuple[int, int] | None]:
        if directory not in self._by_directory:
            path = posixpath.join(directory, "go.mod") if directory else "go.mod"
            try:
                go_mod = self._read(path) if self._read is not None else None
            except FileUnread:  # a module of unknown version: neither GOPATH mode nor a version
                self._by_directory[directory] = (True, None)
                return self._by_directory[directory]
            if go_mod is not None:
                self._by_directory[directory] = (True, go_version_of(go_mod))
            elif directory in ("", "/", "."):
                self._by_directory[directory] = (False, None)
            else:
                self._by_directory[directory] = self._directory_module(posixpath.dirname(directory))
        return self._by_directory[directory]


# -- whole files: `goreef check` ----------------------------------------------------------------
Loader = Callable[[], bytes]


@dataclass
class _PackageResult:
    """What analysing one package gave: its findings, notes and rule failures, in order."""

    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    files_reviewed: int = 0


def _check_package(
    directory_files: list[tuple[str, Loader]], config: Config, analyzer: Analyzer, modules: GoModules
) -> _PackageResult:
    """Load, parse and analyse the files of one package (directory), then let them go."""
    result = _PackageResult()
    package: list[GoFile] = []

    def files_of() -> list[GoFile]:
        return package

    for path, load in directory_files:
        source = load()
        if _skipped(path, source, config, result.notes):
            continue
        package.append(
            GoFile(path, source, modules.version_for(path), package_files=files_of, gopath=modules.without_module(path))
        )
    failed_before = len(analyzer.failures)
    for file in package:
        result.findings.extend(item.finding for item in analyzer.analyze(file, result.notes))
        result.files_reviewed += 1
    result.failures = analyzer.failures[failed_before:]
    for file in package:
        file.release()
    gc.collect()  # the package's cycles (graphs, the model's back-references): see `_collected_per_package`
    return result


# Worth more than one process: below this many files, forking workers costs more than the
# second core gives back (a one-file check stays as quick to start as before).
PARALLEL_MIN_FILES = 40

# The work of a parallel check, set before the workers are forked: they inherit it, so the
# loaders and `read` (closures) need not be pickled. Only the package's index goes to a worker.
_FORKED_WORK: dict[str, tuple[list[list[tuple[str, Loader]]], Config, Analyzer, GoModules]] = {}


def _check_forked_package(index: int) -> _PackageResult:
    packages, config, analyzer, modules = _FORKED_WORK["check"]
    return _check_package(packages[index], config, analyzer, modules)


def available_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_in_parallel(
    packages: list[list[tuple[str, Loader]]], config: Config, analyzer: Analyzer, modules: GoModules, jobs: int
) -> list[_PackageResult] | None:
    """Each package analysed in one of `jobs` forked worker processes, the results in the
    packages' order (so the output is the one process's, byte for byte); None where
    processes cannot be forked (the caller then analyses them itself)."""
    if not hasattr(os, "fork"):
        return None
    from .forked import forked_map  # here, not at the top: a small check never needs it

    _FORKED_WORK["check"] = (packages, config, analyzer, modules)
    try:
        # The biggest packages first, so that no worker is left with a big one at the end.
        order = sorted(range(len(packages)), key=lambda index: -len(packages[index]))
        results: list[_PackageResult | None] = [None] * len(packages)
        for index, result in forked_map(_check_forked_package, order, jobs):
            results[index] = result
    finally:
        _FORKED_WORK.clear()
    return [result for result in results if result is not None]


@contextmanager
def _collected_per_package() -> Iterator[None]:
    """Garbage collected once a package is done rather than all along: analysing one makes
    many small objects (nodes, bindings, places) that live until its end, so the collector's
    frequent passes over them found little to free and took a fifth of the run. Its cycles
    are collected when its files are let go (`_check_package`); the collector itself runs
    only after 50,000 new objects, and never visits what existed before the check (the
    imports, and what forked workers inherit: a visit would write to pages they share)."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def check_files(
    files: Iterable[tuple[str, Loader]],
    config: Config | None = None,
    read: ReadFile | None = None,
    go_version: tuple[int, int] | None = None,
    jobs: int = 1,
) -> ReviewResult:
    """Run every rule over whole files (`file` mode). `files` yields (path, loader) pairs;
    files are loaded and parsed one package (directory) at a time, so memory stays flat.
    With `jobs` above 1 and enough files, packages are analysed in that many processes at
    once (each holding one package at a time); the result is the same."""
    config = config or Config()
    analyzer = Analyzer(config)
    modules = GoModules(read, go_version)
    by_directory: dict[str, list[tuple[str, Loader]]] = {}
    for path, load in files:
        if path.endswith(".go") and not config.ignores(path):
            by_directory.setdefault(posixpath.dirname(path), []).append((path, load))
    packages = list(by_directory.values())
    results = None
    with _collected_per_package():
        if jobs > 1 and len(packages) > 1 and sum(map(len, packages)) >= PARALLEL_MIN_FILES:
            results = _check_in_parallel(packages, config, analyzer, modules, jobs)
        if results is None:
            results = [_check_package(package, config, analyzer, modules) for package in packages]
    result = ReviewResult()
    for package_result in results:
        result.findings.extend(package_result.findings)
        result.notes.extend(package_result.notes)
        result.rule_failures.extend(package_result.failures)
        result.files_reviewed += package_result.files_reviewed
    result.findings = _in_language(_sorted(result.findings), config)
    return result


# -- a change: `goreef review` and the app ------------------------------------------------------
def _nearest_changed_line(changed: ChangedFile, declaration: Node, flagged_line: int) -> int | None:
    first, last = declaration.start_point[0] + 1, declaration.end_point[0] + 1
    touched = [line for line in changed.changed_lines if first <= line <= last and line in changed.commentable_lines]
    return min(touched, key=lambda line: (abs(line - flagged_line), line)) if touched else None


def _change_that_made_it(
    changed: ChangedFile, changes: dict[int, str], declaration: Node, item: _Located
) -> int | None:
    """Where, in the function, the change removed or wrote code naming what the finding
    names (the deleted `defer t.Stop()` of the flagged `t := time.NewTicker(d)`, the
    `make(chan T)` that lost its buffer): the trap is that change's doing, so it anchors
    there, the change sharing the most names first, then the nearest."""
    first, last = declaration.start_point[0] + 1, declaration.end_point[0] + 1
    flagged = item.finding.line
    ranked = []
    for line, text in changes.items():
        if first <= line <= last and line in changed.commentable_lines:
            shared = len(item.identity.names & names_in(text))
            if shared:
                ranked.append((-shared, abs(line - flagged), line))
    return min(ranked)[2] if ranked else None


def _introduced_anchors(head_items: list[_Located], changed: ChangedFile, mode: str) -> list[tuple[_Located, int]]:
    """Head findings on unedited lines of a function the change touched, each with the changed
    line it moves onto: for `introduced`, where the change removed or wrote code naming what
    the finding names, else the nearest changed line of the function; for `added`, only an
    added line that names it (the `make(chan T)` that lost its buffer, the new `go` statement).
    Whether the trap is new is for `_introduced` to say, against the base. Old code that ignores
    a context the change itself declares (a new parameter, a new `WithCancel` for one part of
    the work) is left out: it was never written to watch that context."""
    changes = changed.added_at() if mode == "added" else changed.changes_at()
    anchored = []
    for item in head_items:
        if item.finding.line in changed.added_lines or item.declaration is None:
            continue
        if item.context_line is not None and item.context_line in changed.added_lines:
            continue
        anchor = _change_that_made_it(changed, changes, item.declaration, item)
        if anchor is None and mode == "introduced":
            anchor = _nearest_changed_line(changed, item.declaration, item.finding.line)
        if anchor is not None:
            anchored.append((item, anchor))
    return anchored


def _introduced(anchored: list[tuple[_Located, int]], base_items: list[_Located]) -> Iterator[tuple[_Located, Finding]]:
    """The anchored findings that were not at base, moved onto their anchor (with the head
    finding each comes from); the traps one changed line makes for one rule are one finding
    (a channel that lost its buffer blocks each of its sends). They are info: read on real
    commits, such a finding is most often a rule newly able to see old code, not a trap the
    edit made."""
    at_base = {(item.key, item.ordinal) for item in base_items}
    by_anchor: dict[tuple[str, int], list[_Located]] = {}
    for item, anchor in anchored:
        if (item.key, item.ordinal) not in at_base:
            by_anchor.setdefault((item.finding.rule, anchor), []).append(item)
    for (_, anchor), items in by_anchor.items():
        finding = items[0].finding
        if len(items) == 1:
            message = f"This change makes line {finding.line} a trap: {finding.message}"
        else:
            lines = ", ".join(str(item.finding.line) for item in items)
            message = f"This change makes lines {lines} traps: {finding.message}"
        yield (
            items[0],
            Finding(
                rule=finding.rule,
                severity=Severity.INFO.value,
                path=finding.path,
                line=anchor,
                end_line=anchor,
                message=message,
                remediation=finding.remediation,
                suggestion=None,  # the suggestion replaced other lines than the anchor
                fingerprint=finding.fingerprint,
                names=finding.names,
            ),
        )


def _kept_by_filter(finding: Finding, changed: ChangedFile, mode: str) -> bool:
    if mode == "file":
        return True
    if mode == "diff_context":
        return finding.line in changed.commentable_lines
    return finding.line in changed.added_lines  # added, and the edited part of introduced


def _head_source(
    changed: ChangedFile, head: ReadFile | None, config: Config, notes: list[str]
) -> tuple[bytes | None, bool]:
    """A changed file's contents at head (None when too big to review) and whether they are
    partial: rebuilt from the diff's hunks because `head` could not give them."""
    source = head(changed.path) if head else None
    partial = source is None
    if source is None:
        source = changed.text_from_hunks()
    if _skipped(changed.path, source, config, notes):
        return None, partial
    return source, partial


def _base_source(
    changed: ChangedFile, base: ReadFile | None, head_source: tuple[bytes | None, bool]
) -> tuple[bytes | None, bool]:
    """A changed file's contents at base and whether they are partial: rebuilt by undoing the
    hunks on the whole head file (no read needed), else read with `base`, else the old side of
    the hunks alone."""
    if changed.old_path is None or changed.status == "added":
        return None, False
    head_text, head_partial = head_source
    source = changed.base_from_head(head_text) if head_text is not None and not head_partial else None
    if source is None and base is not None:
        source = base(changed.old_path)
    if source is not None:
        return source, False
    old_side = changed.old_text_from_hunks()
    return (old_side, True) if old_side else (None, False)


def _base_sources(
    changed_files: list[ChangedFile],
    head_sources: dict[str, tuple[bytes | None, bool]],
    base: ReadFile | None,
    config: Config,
) -> dict[str, tuple[bytes | None, bool]]:
    """The base contents of every changed Go file that existed there, deleted ones included
    (code moved out of them may be what a head finding is about), by old path."""
    sources: dict[str, tuple[bytes | None, bool]] = {}
    for changed in changed_files:
        if not changed.is_go or changed.old_path is None or changed.status in SKIPPED_STATUSES:
            continue
        if config.ignores(changed.old_path):
            continue
        source, partial = _base_source(changed, base, head_sources.get(changed.path, (None, False)))
        if source is not None and not _skipped(changed.old_path, source, config, []):
            sources[changed.old_path] = (source, partial)
    return sources


def _analyzed(tree: _Tree, path: str, analyzer: Analyzer) -> list[_Located]:
    file = tree.load(path)
    items = analyzer.analyze(file, []) if file is not None else []
    tree.done_with(path)
    return items


class _Tree:
    """One side of the change (head or base): its changed Go files, each parsed when a rule
    first needs it, grouped in packages by directory. The unchanged files of a directory that
    `package_paths` lists join its package, parsed only if a rule asks for the package and
    never reported on. A package is let go after its last changed file is analyzed, so that
    memory, and time per file, stay flat however big the change."""

    def __init__(
        self,
        sources: dict[str, tuple[bytes | None, bool]],
        read: ReadFile | None,
        package_paths: Callable[[str], list[str]] | None,
        modules: GoModules,
        max_file_bytes: int,
        changed_paths: set[str],
    ):
        self.sources = sources
        self.read = read
        self.package_paths = package_paths if read is not None else None
        self.modules = modules
        self.max_file_bytes = max_file_bytes
        self.changed_in: dict[str, list[str]] = {}
        for path in sources:
            self.changed_in.setdefault(posixpath.dirname(path), []).append(path)
        self.left_in = {directory: len(paths) for directory, paths in self.changed_in.items()}
        self.loaded: dict[str, GoFile | None] = {}
        self.packages: dict[str, list[GoFile]] = {}
        # Paths that changed, under either name: never read as unchanged members of a package.
        self.changed_paths = changed_paths

    def package_of(self, directory: str) -> list[GoFile]:
        if directory not in self.packages:
            files = [f for f in map(self.load, self.changed_in.get(directory, [])) if f is not None]
            for path in self.package_paths(directory) if self.package_paths else ():
                if path in self.changed_paths or not path.endswith(".go") or self.read is None:
                    continue
                source = self.read(path)
                if source is not None and len(source) <= self.max_file_bytes:
                    files.append(
                        GoFile(
                            path,
                            source,
                            self.modules.version_for(path),
                            package_files=functools.partial(self.package_of, directory),
                            gopath=self.modules.without_module(path),
                        )
                    )
            self.packages[directory] = files
        return self.packages[directory]

    def load(self, path: str) -> GoFile | None:
        if path not in self.loaded:
            source, partial = self.sources[path]
            self.loaded[path] = (
                None
                if source is None
                else GoFile(
                    path,
                    source,
                    self.modules.version_for(path),
                    partial=partial,
                    package_files=functools.partial(self.package_of, posixpath.dirname(path)),
                    gopath=self.modules.without_module(path),
                )
            )
        return self.loaded[path]

    def done_with(self, path: str) -> None:
        directory = posixpath.dirname(path)
        self.left_in[directory] -= 1
        if self.left_in[directory] == 0:
            for file in self.packages.pop(directory, []):
                file.release()
            for changed_path in self.changed_in[directory]:
                self.loaded.pop(changed_path, None)


def review(
    changes: str | list[ChangedFile],
    head: ReadFile | None = None,
    base: ReadFile | None = None,
    config: Config | None = None,
    go_version: tuple[int, int] | None = None,
    package_paths: Callable[[str], list[str]] | None = None,
) -> ReviewResult:
    """Review a change: findings on what it made new (or as `config.filter` says).

    `head(path)` gives a changed file's new contents; where it gives None the file is
    rebuilt from its hunks alone. `base(path)` gives old contents: a finding whose trap was
    already there at base is not reported (reviewers.preexisting), except with the `file`
    filter; without `base`, old contents are rebuilt from the head file and the hunks.
    The `go` version comes from the nearest go.mod that `head` can read, unless given.
    `package_paths(directory)` lists the files of a directory at head, so that rules can
    follow calls into the unchanged files of a changed package."""
    config = config or Config()
    changed_files = parse_diff(changes) if isinstance(changes, str) else list(changes)
    analyzer = Analyzer(config)
    modules = GoModules(head, go_version)
    head, base = _absent_if_unread(head), _absent_if_unread(base)
    result = ReviewResult()
    go_files = [c for c in changed_files if c.is_go and c.reviewable and not config.ignores(c.path)]
    for changed in changed_files:
        if changed.is_go and changed.status in SKIPPED_STATUSES:
            result.notes.append(f"{changed.path}: skipped, {SKIPPED_STATUSES[changed.status]}")

    changed_paths = {path for c in changed_files for path in (c.path, c.old_path) if path}
    head_sources = {changed.path: _head_source(changed, head, config, result.notes) for changed in go_files}
    head_tree = _Tree(head_sources, head, package_paths, modules, config.max_file_bytes, changed_paths)
    # Every head finding of the changed files, and those the filter keeps (by index into it).
    head_items: list[_Located] = []
    kept: list[tuple[int, Finding]] = []
    # path: (change, head findings that may be new traps made by the change, with their anchors)
    introduced_in: dict[str, tuple[ChangedFile, list[tuple[_Located, int]]]] = {}
    for changed in go_files:
        file = head_tree.load(changed.path)
        if file is not None:
            result.files_reviewed += 1
            first = len(head_items)
            head_items.extend(analyzer.analyze(file, result.notes))
            kept.extend(
                (index, head_items[index].finding)
                for index in range(first, len(head_items))
                if _kept_by_filter(head_items[index].finding, changed, config.filter)
            )
            if config.filter in ("added", "introduced") and changed.status != "added":
                anchored = _introduced_anchors(head_items[first:], changed, config.filter)
                if anchored:  # else the base need not be analysed for them
                    introduced_in[changed.path] = (changed, anchored)
        head_tree.done_with(changed.path)

    if config.filter != "file" and (kept or introduced_in):
        base_tree = _Tree(
            _base_sources(changed_files, head_sources, base, config),
            head,  # a package's unchanged files are the same at base
            package_paths,
            modules,
            config.max_file_bytes,
            changed_paths,
        )
        base_items = {path: _analyzed(base_tree, path, analyzer) for path in base_tree.sources}
        index_of = {id(item): index for index, item in enumerate(head_items)}
        for path, (changed, anchored) in introduced_in.items():
            extra = _introduced(anchored, base_items.get(changed.old_path or path, []))
            kept.extend((index_of[id(item)], finding) for item, finding in extra)
        written = {index for index, _ in kept}
        old = preexisting(
            [item.identity for item in head_items],
            [item.identity for items in base_items.values() for item in items],
            untouched=[index for index in range(len(head_items)) if index not in written],
        )
        kept_now = [(index, finding) for index, finding in kept if index not in old]
        if len(kept_now) < len(kept):
            result.notes.append(
                f"{len(kept) - len(kept_now)} finding(s) on changed code were already in the base "
                "(the same trap before this change): not commented"
            )
        kept = kept_now
    result.findings = _in_language(_sorted([finding for _, finding in kept]), config)
    result.rule_failures = analyzer.failures
    return result
