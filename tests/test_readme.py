"""The README's rule table is the registry's, not a hand copy.

Regenerate it with `python -m tests.test_readme`."""

from __future__ import annotations

import re
from pathlib import Path

from reviewers.cli import rules_table

README = Path(__file__).parent.parent / "README.md"
SECTION = re.compile(r"(<!-- rules:start -->\n)(.*?)(<!-- rules:end -->)", re.DOTALL)


def current_table() -> str:
    return SECTION.search(README.read_text()).group(2).strip()


def test_readme_rule_table_is_generated_from_the_rules():
    assert current_table() == rules_table(), "README rule table is stale: run `python -m tests.test_readme`"


if __name__ == "__main__":
    README.write_text(SECTION.sub(lambda m: f"{m.group(1)}{rules_table()}\n{m.group(3)}", README.read_text()))
