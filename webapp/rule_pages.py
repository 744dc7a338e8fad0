"""`GET /rules` and `GET /rules/<id>`: the rule docs as HTML, the pages comments link to
(`?lang=zh-CN`: in Chinese, as a repository configured with `language: zh-CN` links them)."""

from __future__ import annotations

from html import escape

from flask import Blueprint, abort, request

from reviewers.locale import ENGLISH, LanguageError, checked_language, gettext, rule_page
from reviewers.registry import all_rules, get_rule, rule_class
from reviewers.rule import Rule
from webapp.markdown import to_html

PAGE = """<!doctype html>
<html lang="{language}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f6f8fa;padding:1rem;overflow:auto}}td,th{{padding:.2rem .8rem;text-align:left}}</style>
</head><body>{body}</body></html>"""

rule_pages = Blueprint("rules", __name__)


def _language() -> str:
    try:
        return checked_language(request.args.get("lang", ENGLISH))
    except LanguageError as error:
        abort(404, str(error))


def _query(language: str) -> str:
    return f"?lang={language}" if language != ENGLISH else ""


@rule_pages.get("/rules")
def index() -> str:
    language = _language()
    rows = "".join(
        f'<tr><td><a href="/rules/{escape(rule.id)}{_query(language)}">{escape(rule.id)}</a></td>'
        f"<td>{escape(rule.name)}</td><td>{escape(_severity(rule, language))}</td>"
        f"<td>{escape(gettext(language, rule_class(rule.id)))}</td></tr>"
        for rule in all_rules()
    )
    headings = "".join(f"<th>{escape(gettext(language, word))}</th>" for word in ("Rule", "Name", "Severity", "Class"))
    table = f"<table><tr>{headings}</tr>{rows}</table>"
    title = escape(gettext(language, "goreef rules"))
    return PAGE.format(language=language, title=title, body=f"<h1>{title}</h1>{table}")


@rule_pages.get("/rules/<rule_id>")
def page(rule_id: str) -> str:
    language = _language()
    rule = get_rule(rule_id) or abort(404, f"no rule {rule_id}")
    title = f"{escape(rule.id)} {escape(rule.name)}"
    header = gettext(
        language,
        '<p><a href="/rules{query}">All rules</a> · severity <strong>{severity}</strong></p>',
        query=_query(language),
        severity=escape(_severity(rule, language)),
    )
    # The page's first line is `GRNNN name: summary`: the heading and a lead paragraph.
    summary, _, sections = rule_page(rule.id, rule.doc, language).partition("\n")
    lead = to_html(summary.split(": ", 1)[-1])
    return PAGE.format(language=language, title=title, body=f"{header}<h1>{title}</h1>{lead}{to_html(sections)}")


def _severity(rule: Rule, language: str) -> str:
    return gettext(language, rule.severity.value)
