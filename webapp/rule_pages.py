"""`GET /rules` and `GET /rules/<id>`: the rule docs as HTML, the pages comments link to."""

from __future__ import annotations

from html import escape

from flask import Blueprint, abort

from reviewers.registry import all_rules, get_rule, rule_class
from reviewers.rule import Rule
from webapp.markdown import to_html

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f6f8fa;padding:1rem;overflow:auto}}td,th{{padding:.2rem .8rem;text-align:left}}</style>
</head><body>{body}</body></html>"""

rule_pages = Blueprint("rules", __name__)


@rule_pages.get("/rules")
def index() -> str:
    rows = "".join(
        f'<tr><td><a href="/rules/{escape(rule.id)}">{escape(rule.id)}</a></td><td>{escape(rule.name)}</td>'
        f"<td>{escape(_severity(rule))}</td><td>{escape(rule_class(rule.id))}</td></tr>"
        for rule in all_rules()
    )
    table = f"<table><tr><th>Rule</th><th>Name</th><th>Severity</th><th>Class</th></tr>{rows}</table>"
    return PAGE.format(title="goreef rules", body=f"<h1>goreef rules</h1>{table}")


@rule_pages.get("/rules/<rule_id>")
def page(rule_id: str) -> str:
    rule = get_rule(rule_id) or abort(404, f"no rule {rule_id}")
    title = f"{escape(rule.id)} {escape(rule.name)}"
    header = f'<p><a href="/rules">All rules</a> · severity <strong>{escape(_severity(rule))}</strong></p>'
    # The doc's first line is `GRNNN name: summary`: the heading and a lead paragraph.
    summary, _, sections = rule.doc.strip().partition("\n")
    lead = to_html(summary.split(": ", 1)[-1])
    return PAGE.format(title=title, body=f"{header}<h1>{title}</h1>{lead}{to_html(sections)}")


def _severity(rule: Rule) -> str:
    return rule.severity.value
