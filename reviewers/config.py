"""`.github/goreef.yml`: which rules run at what severity, which paths are ignored, what fails
the check run.

```yaml
rules:              # per rule: off | error | warning | info
  GR209: off
  GR104: error
ignore_paths:       # glob patterns (`**` crosses directories)
  - "internal/legacy/**"
  - "**/*_gen.go"
fail_on: error      # error | warning | never
on_error: failure   # conclusion when goreef cannot finish a review: failure | neutral
comment_cap: 30     # inline comments per push; the rest go to the check run
filter: added       # added | diff_context | introduced | file
max_file_bytes: 1000000
language: en        # en | zh-CN: the language of messages, summaries and rule pages
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from .finding import Finding, Severity
from .locale import ENGLISH, LanguageError, checked_language

if TYPE_CHECKING:
    import yaml

CONFIG_PATH = ".github/goreef.yml"  # in the repository reviewed
FILTERS = ("added", "diff_context", "introduced", "file")
FAIL_ON = ("error", "warning", "never")
ON_ERROR = ("neutral", "failure")
RULE_SETTINGS = ("off", "error", "warning", "info")


class ConfigError(ValueError):
    """The configuration is not valid; the message says which key and why."""


@dataclass(frozen=True)
class Config:
    rules: dict[str, str] = field(default_factory=dict)
    ignore_paths: tuple[str, ...] = ()
    fail_on: str = "error"
    on_error: str = "failure"  # a review that cannot finish must not pass the gate
    comment_cap: int = 30
    filter: str = "added"
    max_file_bytes: int = 1_000_000
    language: str = ENGLISH

    def severity_of(self, rule_id: str, default: Severity) -> Severity | None:
        """The configured severity of a rule, None when it is off."""
        setting = self.rules.get(rule_id)
        if setting is None:
            return default
        return None if setting == "off" else Severity(setting)

    def ignores(self, path: str) -> bool:
        return any(_glob_match(path, pattern) for pattern in self.ignore_paths)

    def fails(self, findings: Iterable[Finding]) -> bool:
        """Whether these findings fail the check run."""
        if self.fail_on == "never":
            return False
        threshold = Severity(self.fail_on).rank
        return any(Severity(f.severity).rank >= threshold for f in findings)

    def with_overrides(self, **changes) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _glob_match(path: str, pattern: str) -> bool:
    regex = (
        re.escape(pattern)
        .replace(r"\*\*/", "(?:.*/)?")
        .replace(r"\*\*", ".*")
        .replace(r"\*", "[^/]*")
        .replace(r"\?", "[^/]")
    )
    return re.fullmatch(regex, path) is not None or fnmatchcase(path, pattern)


def _choice(data: dict, key: str, choices: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in choices:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _positive_int(data: dict, key: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{key}: {value!r} is not a non-negative integer")
    return value


def _language(data: dict) -> str:
    try:
        return checked_language(data.get("language", ENGLISH))
    except LanguageError as error:
        raise ConfigError(f"language: {error}") from None


def config_from_dict(data: dict | None, known_rules: Iterable[str] | None = None) -> Config:
    if data is None:
        return Config()
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping of keys to values")
    unknown = set(data) - {f for f in Config.__dataclass_fields__}
    if unknown:
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''}: {', '.join(sorted(unknown))}")
    rules = data.get("rules") or {}
    if not isinstance(rules, dict):
        raise ConfigError("rules: expected a mapping of rule id to off | error | warning | info")
    known = set(known_rules) if known_rules is not None else None
    normalized_rules = {}
    for rule_id, setting in rules.items():
        rule_id = str(rule_id).upper()
        if setting is False:  # YAML reads a bare `off` as false
            setting = "off"
        if known is not None and rule_id not in known:
            raise ConfigError(f"rules: unknown rule {rule_id}")
        if setting not in RULE_SETTINGS:
            raise ConfigError(f"rules.{rule_id}: {setting!r} is not one of {', '.join(RULE_SETTINGS)}")
        normalized_rules[rule_id] = setting
    ignore_paths = data.get("ignore_paths") or []
    if not isinstance(ignore_paths, list) or not all(isinstance(p, str) for p in ignore_paths):
        raise ConfigError("ignore_paths: expected a list of glob patterns")
    return Config(
        rules=normalized_rules,
        ignore_paths=tuple(ignore_paths),
        fail_on=_choice(data, "fail_on", FAIL_ON, "error"),
        on_error=_choice(data, "on_error", ON_ERROR, "failure"),
        comment_cap=_positive_int(data, "comment_cap", 30),
        filter=_choice(data, "filter", FILTERS, "added"),
        max_file_bytes=_positive_int(data, "max_file_bytes", 1_000_000),
        language=_language(data),
    )


def load_config(text: str | bytes | None) -> Config:
    """Parse `.github/goreef.yml`; raises ConfigError with a clear message when malformed."""
    from .registry import all_rules

    if text is None:
        return Config()
    import yaml  # here, not at the top: most runs have no configuration file to read

    try:
        data = yaml.safe_load(_utf8(text))
    except yaml.MarkedYAMLError as error:
        raise ConfigError(_yaml_error(error)) from error
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML: {error}".splitlines()[0]) from error
    return config_from_dict(data, [rule.id for rule in all_rules()])


def _utf8(text: str | bytes) -> str:
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as error:
        line = text.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{text[error.start]:02x} on line {line}") from None


def _yaml_error(error: yaml.MarkedYAMLError) -> str:
    """'line L, column C: what is wrong' (1-based, where PyYAML noticed the problem)."""
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "not valid YAML"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"not valid YAML: {where}{problem}"
