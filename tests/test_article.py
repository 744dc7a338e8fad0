"""The article behind goreef (shared/seed): its traps are all reported, by the rules the
catalogue names, and its fixes are all clean. `tests/fixtures/article/` holds its code as it
writes it; here every rule is checked, so a finding no `// want` asks for fails the test.

The loop-variable capture of the article needs Go < 1.22: it is GR108's fixture
(`tests/fixtures/GR108/go1.21/`)."""

from __future__ import annotations

from tests.fixture_support import FIXTURES, run_folder, wants

ARTICLE = FIXTURES / "article"


def test_every_trap_of_the_article_is_reported_and_every_fix_is_clean():
    reported = {(f.path, f.line, f.rule) for f in run_folder(ARTICLE)}
    wanted = {(w.path, w.line, w.rule) for w in wants(ARTICLE)}
    assert len(wanted) >= 13  # the traps the article shows
    assert sorted(wanted - reported) == [], "traps of the article not reported"
    assert sorted(reported - wanted) == [], "reported where the article has no trap (or a fix)"
