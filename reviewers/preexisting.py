"""Which findings of a change were already traps before it.

A change that moves a function, renames it, re-formats a file or wraps its `defer`s in
closures re-writes lines that hold an old trap; the diff calls them added, but the trap is
not the change's doing. Like code scanning's pull-request alerts, goreef comments only on
what is new relative to the base: a head finding is pre-existing when the base, read over the
same changed files, has a finding of the same rule on the same code.

"The same code" must survive what such changes do, so it is never a line number, a path or a
count of occurrences. A finding is identified by its flagged statement's text (comments and
layout left out) and by the function around it: its name and a digest of its body. Head
and base findings are paired greedily, closest first:

1. the same statement in a function of the same name and body (untouched or moved code);
2. the same statement in a function with the same body (renamed code);
3. the same statement in a function of the same name (edited elsewhere in the function);
4. the same statement anywhere (moved and edited);
5. the same flagged expression in the same function, its statement re-written around it
   (`"Content-Type": fs.MimeType(context.Background(), o),` in a map literal moved into
   `mimeType = fs.MimeType(context.Background(), o)`; for a `go` statement that starts a
   literal, its head alone, `go func(user string) {}(u)`: a body the change grew is still
   that goroutine);
6. a statement with mostly the same names in the same function (re-written around the same
   calls: `defer f.Close()` wrapped as `defer func() { _ = f.Close() }()`).

An old trap consumes its counterpart first, so a new trap written beside an identical old
one stays new.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

# Words of Go that say nothing about which code a statement is.
_KEYWORDS = frozenset(
    [
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
        "nil",
        "true",
        "false",
        "_",
        "err",
    ]
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Comments, and any layout: what re-formatting and re-commenting change.
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
# How much of two statements' names must be shared for rule 6 (Jaccard similarity), and how
# much of a statement's text its names are read from (a goroutine's statement holds its body).
SIMILAR_NAMES = 0.5
NAMES_FROM = 4096


@dataclass(frozen=True)
class Identity:
    """What a finding is about, in terms that survive moves, renames and re-formatting."""

    rule: str
    code: str  # a digest of the flagged statement's text without comments and layout
    names: frozenset[str]  # the identifiers in it
    function: str  # the enclosing declaration's name
    body: str  # a digest of the enclosing declaration's body, as `code` is made
    flagged: str = ""  # a digest of the flagged expression's text, as `code` is made


def _bare(text: str) -> str:
    # Applied alike to head and base, so a `//` inside a string literal cuts both the same way.
    return "".join(_COMMENT.sub(" ", text).split())


def digest(text: str) -> str:
    """A digest of source text that re-formatting and comments do not change."""
    return hashlib.sha1(_bare(text).encode("utf-8", "surrogateescape")).hexdigest()


def names_in(text: str) -> frozenset[str]:
    """The identifiers a piece of Go code names, keywords and comments left out."""
    return frozenset(name for name in _WORD.findall(_COMMENT.sub(" ", text[:NAMES_FROM])) if name not in _KEYWORDS)


def identity(rule: str, statement: str, function: str, body_digest: str, flagged: str = "") -> Identity:
    """`statement` is the flagged statement's text, `flagged` the flagged expression's;
    `body_digest` the `digest` of the body of the declaration around it (a renamed function
    keeps its body)."""
    return Identity(
        rule=rule,
        code=digest(statement),
        names=names_in(statement),
        function=function,
        body=body_digest,
        flagged=digest(flagged) if flagged else "",
    )


def _similar_names(head: Identity, base: Identity) -> bool:
    if not head.names or not base.names:
        return False
    return len(head.names & base.names) / len(head.names | base.names) >= SIMILAR_NAMES


# Rules 1 to 4 of the module's docstring, closest first: they need the same
# statement. Rules 5 and 6 need the same function.
_SAME_STATEMENT: tuple[Callable[[Identity, Identity], bool], ...] = (
    lambda h, b: h.body == b.body and h.function == b.function,
    lambda h, b: h.body == b.body,
    lambda h, b: h.function == b.function,
    lambda h, b: True,
)


def _same_function(head: Identity, base: Identity) -> bool:
    return head.function == base.function or head.body == base.body


def _rewritten(head: Identity, base: Identity) -> bool:
    return _same_function(head, base) and _similar_names(head, base)


def preexisting(head: Sequence[Identity], base: Sequence[Identity], untouched: Collection[int] = ()) -> set[int]:
    """The indexes of the `head` findings that have a counterpart among the `base` ones, each
    base finding standing for one head finding at most. `untouched` head findings (on lines
    the change did not write) are paired first: they are old code for certain, so a new
    statement identical to one of them is what stays new."""
    by_statement: dict[tuple[str, str], list[int]] = {}
    by_flagged: dict[tuple[str, str], list[int]] = {}
    by_rule: dict[str, list[int]] = {}
    for index, item in enumerate(base):
        by_statement.setdefault((item.rule, item.code), []).append(index)
        if item.flagged:
            by_flagged.setdefault((item.rule, item.flagged), []).append(index)
        by_rule.setdefault(item.rule, []).append(index)
    paired: set[int] = set()  # base indexes
    matched: set[int] = set()  # head indexes
    first = set(untouched)
    order = sorted(range(len(head)), key=lambda index: index not in first)

    def pair(index: int, candidates: list[int], fits: Callable[[Identity, Identity], bool]) -> None:
        counterpart = next((b for b in candidates if b not in paired and fits(head[index], base[b])), None)
        if counterpart is not None:
            paired.add(counterpart)
            matched.add(index)

    for fits in _SAME_STATEMENT:
        for index in order:
            if index not in matched:
                pair(index, by_statement.get((head[index].rule, head[index].code), []), fits)
    for index in order:
        if index not in matched and head[index].flagged:
            pair(index, by_flagged.get((head[index].rule, head[index].flagged), []), _same_function)
    for index in order:
        if index not in matched:
            pair(index, by_rule.get(head[index].rule, []), _rewritten)
    return matched
