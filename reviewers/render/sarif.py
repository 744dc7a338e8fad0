"""SARIF 2.1.0: the format GitHub code scanning uploads accept."""

from __future__ import annotations

import json

from .. import goreef_version
from ..engine import ReviewResult
from ..finding import Finding
from ..locale import ENGLISH, gettext, note, rule_summary
from ..registry import all_rules, rule_help

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _rule_descriptor(rule, docs_url: str | None, language: str) -> dict:
    page = rule_help(rule, language)
    summary = rule_summary(rule.id, rule.doc, language)
    descriptor = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": summary},
        # The rule's whole page, as `goreef rules GRNNN` shows it: code scanning explains the
        # finding without GOREEF_DOCS_URL.
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"level": LEVELS[rule.severity.value]},
        "properties": {"tags": ["go", "reliability"]},
    }
    if docs_url:
        query = f"?lang={language}" if language != ENGLISH else ""
        descriptor["helpUri"] = f"{docs_url.rstrip('/')}/{rule.id}{query}"
    return descriptor


def _fix(finding: Finding, suggestion: str, language: str) -> dict:
    return {
        "description": {"text": gettext(language, "Apply goreef's suggestion for {rule}", rule=finding.rule)},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": finding.path},
                "replacements": [
                    {
                        "deletedRegion": {
                            "startLine": finding.line,
                            "startColumn": 1,
                            "endLine": finding.end_line + 1,
                            "endColumn": 1,
                        },
                        "insertedContent": {"text": suggestion + "\n"},
                    }
                ],
            }
        ],
    }


def _result(finding: Finding, rule_index: dict[str, int], language: str) -> dict:
    result = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index[finding.rule],
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": finding.line, "endLine": finding.end_line},
                }
            }
        ],
        "partialFingerprints": {"goreef/v1": finding.fingerprint},
    }
    if finding.suggestion is not None:
        result["fixes"] = [_fix(finding, finding.suggestion, language)]
    return result


def render_sarif(result: ReviewResult, docs_url: str | None = None, language: str = ENGLISH) -> str:
    rules = all_rules()
    rule_index = {rule.id: index for index, rule in enumerate(rules)}
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "goreef",
                        "version": goreef_version(),
                        "informationUri": docs_url or "https://github.com/apps/goreef",
                        "rules": [_rule_descriptor(rule, docs_url, language) for rule in rules],
                    }
                },
                "results": [_result(finding, rule_index, language) for finding in result.findings],
                "invocations": [
                    {
                        "executionSuccessful": not result.rule_failures,
                        "toolExecutionNotifications": [
                            {
                                "message": {"text": note(text, language)},
                                "level": "error" if text in result.rule_failures else "note",
                            }
                            for text in result.notes
                        ],
                    }
                ],
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False)
