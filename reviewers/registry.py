"""The rule registry: every rule module under `reviewers/rules/<class>/` that defines `RULE`.

This is the only list of rules: the CLI's `goreef rules`, the README table and the app's rule
pages are generated from it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache

from . import rules as rules_package
from .locale import ENGLISH, gettext, rule_page
from .rule import Rule

RULE_ID = re.compile(r"^GR[1-4]\d\d$")
CLASSES = {"1": "goroutine leaks", "2": "context cancellation", "3": "unsafe.Pointer misuse", "4": "blocking in init"}


@lru_cache(maxsize=1)
def _rules() -> dict[str, Rule]:
    found: dict[str, Rule] = {}
    for module_info in pkgutil.walk_packages(rules_package.__path__, rules_package.__name__ + "."):
        module = importlib.import_module(module_info.name)
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            continue
        if not RULE_ID.match(rule.id):
            raise ValueError(f"{module_info.name}: rule id {rule.id!r} is not of the form GR1xx..GR4xx")
        if rule.id in found:
            raise ValueError(f"{module_info.name}: rule id {rule.id} is defined twice")
        found[rule.id] = rule
    return dict(sorted(found.items()))


def all_rules() -> list[Rule]:
    return list(_rules().values())


def get_rule(rule_id: str) -> Rule | None:
    return _rules().get(rule_id.upper())


def rule_class(rule_id: str) -> str:
    return CLASSES.get(rule_id[2:3], "other")


def rule_help(rule: Rule, language: str = ENGLISH) -> str:
    """One rule's page, in Markdown: what `goreef rules GRNNN` prints and what SARIF carries as
    the rule's help, so code scanning explains a finding with no link to follow."""
    severity, kind = gettext(language, rule.severity.value), gettext(language, rule_class(rule.id))
    page = f"{rule.id} {rule.name} ({severity}, {kind})\n\n{rule_page(rule.id, rule.doc, language)}"
    if not rule.in_tests:
        page += gettext(
            language,
            "\nTest code (_test.go files, and test/, tests/, e2e/, testutil/ or testing/ directories) is not "
            "reviewed by this rule: a test's goroutines and contexts live and die with the test.",
        ).replace("\n", "\n\n", 1)
    return page
