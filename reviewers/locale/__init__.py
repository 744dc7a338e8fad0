"""The languages goreef speaks: English (the code's own text, the default) and Chinese (zh-CN).

The rules write English; a translation is applied after them and never changes what they
find. The Chinese catalogue lives apart from the rules, in `zh_CN/`:

- `zh_CN/rules/GRNNN.md`: each rule's page, the English docstring's Chinese counterpart
  (same title line `GRNNN name: ...`, same code blocks);
- `zh_CN/messages.yml`: by rule id, the English templates of the rule's messages (its
  f-strings, with the code's own expressions as `{placeholders}` and `{{`/`}}` for a literal
  brace) and their Chinese templates; `phrases`, templates for the parts of a message a
  placeholder carries (a reason, a place); `remediations`, the rule's fix texts, literally.
  An entry's `verbatim` lists the placeholders kept as they are wherever they stand (code
  written without backticks, such as a call chain);
- `zh_CN/interface.yml`: the renderers' words (titles, summaries, notes), by English template,
  and the phrases of the helpers several rules share (what a call waits for).

A message is translated by matching it against its rule's English templates: the literal
text must be equal, and each placeholder takes the text in its place. A placeholder inside
backticks (or listed as verbatim) is code and is kept; one outside is translated when it
matches a phrase (in turn), kept when it holds no word (a line number, a path, a `code
span`), and fails the match otherwise, so that no English is left inside the Chinese. A message no template
matches stays English and is logged: a rule whose wording changed is never dropped and
never fails the review.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from ..finding import Finding, with_names

ENGLISH = "en"
LANGUAGES = (ENGLISH, "zh-CN")
CATALOGUES = Path(__file__).parent


class LanguageError(ValueError):
    """A language goreef does not speak."""


def checked_language(value: Any) -> str:
    """The language as goreef names it (`zh-cn`, `zh_CN` are `zh-CN`); LanguageError otherwise."""
    for language in LANGUAGES:
        if isinstance(value, str) and value.replace("_", "-").lower() == language.lower():
            return language
    raise LanguageError(f"{value!r} is not a supported language: {', '.join(LANGUAGES)}")


# -- templates ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")
_CODE_SPAN = re.compile(r"`[^`]*`")
_WORD = re.compile(r"(?<!\S)[A-Za-z]+(?!\S)")  # letters alone between spaces: prose, not code


@dataclass(frozen=True)
class Slot:
    name: str  # the code's own expression, as the f-string writes it
    code: bool  # inside backticks: kept as it is


@dataclass(frozen=True)
class Template:
    text: str
    parts: tuple[str | Slot, ...]

    @classmethod
    def parse(cls, text: str, verbatim: Collection[str] = ()) -> Template:
        parts: list[str | Slot] = []
        literal, ticks, position = "", 0, 0
        for token in _TOKEN.finditer(text):
            literal += text[position : token.start()]
            position = token.end()
            if token.group(1) is None:
                literal += token.group(0)[0]
                continue
            ticks += literal.count("`")
            if literal:
                parts.append(literal)
            parts.append(Slot(token.group(1), code=ticks % 2 == 1 or token.group(1) in verbatim))
            literal = ""
        literal += text[position:]
        if literal:
            parts.append(literal)
        return cls(text, tuple(parts))

    @property
    def slots(self) -> set[str]:
        return {part.name for part in self.parts if isinstance(part, Slot)}

    def match(self, text: str, translate: Callable[[str], str | None]) -> dict[str, str] | None:
        """The translated value of each placeholder when `text` is this template filled in,
        else None. A prose placeholder must `translate`; the first full match wins."""
        parts = self.parts

        def candidates(index: int, start: int) -> list[int]:
            following = parts[index + 1] if index + 1 < len(parts) else None
            if following is None:
                return [len(text)]
            if isinstance(following, Slot):  # two placeholders in a row: the first takes all it can
                return list(range(len(text), start - 1, -1))
            ends, found = [], text.find(following, start)
            while found >= 0:
                ends.append(found)
                found = text.find(following, found + 1)
            return ends

        # The slots met again after each part: a way on from a part and a position fails the
        # same way whatever was bound before, but for those. Failures are remembered, so a
        # message that no template fits costs the ways there are, not their product.
        later = [frozenset(p.name for p in parts[index:] if isinstance(p, Slot)) for index in range(len(parts))]
        failed: set[tuple] = set()

        def walk(index: int, position: int, bound: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]] | None:
            if index == len(parts):
                return bound if position == len(text) else None
            key = (index, position, tuple(sorted((name, bound[name][0]) for name in later[index] if name in bound)))
            if key in failed:
                return None
            found = _step(index, position, bound)
            if found is None:
                failed.add(key)
            return found

        def _step(index: int, position: int, bound: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]] | None:
            part = parts[index]
            if isinstance(part, str):
                return walk(index + 1, position + len(part), bound) if text.startswith(part, position) else None
            if part.name in bound:  # the same expression again: the same text
                raw = bound[part.name][0]
                return walk(index + 1, position + len(raw), bound) if text.startswith(raw, position) else None
            for end in candidates(index, position):
                raw = text[position:end]
                value = raw if part.code else translate(raw)
                if value is not None and (found := walk(index + 1, end, {**bound, part.name: (raw, value)})):
                    return found
            return None

        found = walk(0, 0, {})
        return None if found is None else {name: value for name, (_, value) in found.items()}

    def fill(self, values: dict[str, str]) -> str:
        return "".join(part if isinstance(part, str) else values[part.name] for part in self.parts)


@dataclass(frozen=True)
class Entry:
    english: Template
    translated: Template


def _entries(pairs: list[dict[str, Any]] | None) -> tuple[Entry, ...]:
    return tuple(Entry(Template.parse(p["en"], p.get("verbatim", ())), Template.parse(p["zh"])) for p in pairs or ())


def _wordless(text: str) -> bool:
    """Whether text can stand untranslated: no word outside its code spans (a number, a
    path, `code`), and its backticks paired."""
    return text.count("`") % 2 == 0 and not _WORD.search(_CODE_SPAN.sub("", text))


@dataclass(frozen=True)
class Catalogue:
    """One language's translations: per rule its messages, phrases and remediations; and the
    renderers' texts and notes."""

    language: str
    messages: dict[str, tuple[Entry, ...]]
    phrases: dict[str, tuple[Entry, ...]]
    remediations: dict[str, dict[str, str]]
    texts: dict[str, str]
    notes: tuple[Entry, ...]
    shared_phrases: tuple[Entry, ...]
    pages: Path

    def translate(
        self,
        text: str,
        entries: tuple[Entry, ...],
        phrases: tuple[Entry, ...],
        translated: dict[str, str | None] | None = None,
    ) -> str | None:
        # Each piece of prose is translated once per message: a template's ways of splitting
        # the message ask for the same pieces again and again (`translated`, shared below).
        known: dict[str, str | None] = {} if translated is None else translated

        def value(raw: str) -> str | None:
            if raw not in known:
                known[raw] = None  # a phrase is not made of itself
                found = self.translate(raw, phrases, phrases, known)
                known[raw] = raw if found is None and _wordless(raw) else found
            return known[raw]

        for entry in entries:
            values = entry.english.match(text, value)
            if values is not None:
                return entry.translated.fill(values)
        return None

    def message(self, rule_id: str, text: str) -> str | None:
        phrases = (*self.phrases.get(rule_id, ()), *self.shared_phrases)
        found = self.translate(text, self.messages.get(rule_id, ()), phrases)
        if found is None:
            # The engine's words around a rule's message ("This change makes line N a trap: ...").
            found = self.translate(text, self.notes, (*self.messages.get(rule_id, ()), *phrases))
        return found

    def remediation(self, rule_id: str, text: str) -> str | None:
        return self.remediations.get(rule_id, {}).get(text)

    def page(self, rule_id: str) -> str | None:
        path = self.pages / f"{rule_id}.md"
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None


@cache
def catalogue(language: str) -> Catalogue | None:
    """The catalogue of a language; None for English, the code's own."""
    if language == ENGLISH:
        return None
    import yaml  # here, not at the top: a run in English never reads a catalogue

    folder = CATALOGUES / checked_language(language).replace("-", "_")
    rules = yaml.safe_load((folder / "messages.yml").read_text(encoding="utf-8")) or {}
    interface = yaml.safe_load((folder / "interface.yml").read_text(encoding="utf-8")) or {}
    return Catalogue(
        language=language,
        messages={rule: _entries(entry.get("messages")) for rule, entry in rules.items()},
        phrases={rule: _entries(entry.get("phrases")) for rule, entry in rules.items()},
        remediations={
            rule: {p["en"]: p["zh"] for p in entry.get("remediations") or ()} for rule, entry in rules.items()
        },
        texts={p["en"]: p["zh"] for p in interface.get("texts") or ()},
        notes=_entries(interface.get("notes")),
        shared_phrases=_entries(interface.get("phrases")),
        pages=folder / "rules",
    )


# -- what the rest of goreef asks ------------------------------------------------------------
def _missing(language: str, what: str, text: str) -> str:
    import logging  # here, not at the top: only a missing translation needs it (and it is slow to import)

    logging.getLogger(__name__).warning("no %s translation for %s: %r (left in English)", language, what, text)
    return text


def translate_finding(finding: Finding, language: str) -> Finding:
    """The finding with its message and remediation in `language` (each left in English,
    and logged, when the catalogue has no translation for it), the remediation's stand-in
    names replaced by the code's own (`finding.names`)."""
    book = catalogue(language)
    if book is None:
        if not finding.names:
            return finding
        return replace(finding, remediation=with_names(finding.remediation, finding.names), names=())
    message = book.message(finding.rule, finding.message)
    remediation = book.remediation(finding.rule, finding.remediation)
    return replace(
        finding,
        message=message if message is not None else _missing(language, f"a {finding.rule} message", finding.message),
        remediation=with_names(
            remediation
            if remediation is not None
            else _missing(language, f"a {finding.rule} remediation", finding.remediation),
            finding.names,
        ),
        names=(),
    )


def note(text: str, language: str) -> str:
    """A note of the engine or the app (a skipped file, a malformed configuration)."""
    book = catalogue(language)
    if book is None:
        return text
    found = book.translate(text, book.notes, book.notes)
    return found if found is not None else _missing(language, "a note", text)


def gettext(language: str, template: str, /, **values: Any) -> str:
    """A renderer's text: `template` (an English `str.format` template, the catalogue's
    key) in `language`, filled with `values`."""
    book = catalogue(language)
    translated = book.texts.get(template) if book is not None else template
    if translated is None:
        translated = _missing(language, "a text", template)
    return translated.format(**values)


def rule_page(rule_id: str, english: str, language: str) -> str:
    """A rule's documentation page (`GRNNN name: summary`, then Markdown sections)."""
    book = catalogue(language)
    page = book.page(rule_id) if book is not None else english.strip()
    return page if page is not None else _missing(language, f"the {rule_id} page", english.strip())


def rule_summary(rule_id: str, english: str, language: str) -> str:
    """The page's first line."""
    return rule_page(rule_id, english, language).splitlines()[0]
