"""The README says what goreef does: its rule table is the registry's, not a hand copy, and
its examples run as written.

Regenerate the table with `python -m tests.test_readme`."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from reviewers import load_config
from reviewers.cli import _parser, rules_table
from tests.gitrepo import GitRepo
from tests.test_cli import ADDED, BEFORE, GOREEF

README = Path(__file__).parent.parent / "README.md"
SECTION = re.compile(r"(<!-- rules:start -->\n)(.*?)(<!-- rules:end -->)", re.DOTALL)
# Where each example is tested when this file does not run it itself.
TESTED_ELSEWHERE = {
    "## The GitHub Action": "tests/app/test_action.py::test_the_readme_workflow_uses_the_actions_real_inputs",
    "## The pre-commit hook": "tests/test_precommit.py::test_the_readmes_pre_commit_config_runs_the_hook",
    "goreef serve          # the whole app": "tests/app/test_serve.py::test_without_credentials_the_web_process_answers_and_a_dead_child_stops_serve",
    "`goreef replay --event pull_request --payload delivery.json`": "tests/app/test_end_to_end.py::test_replay_runs_the_pipeline_in_process",
}


def current_table() -> str:
    return SECTION.search(README.read_text()).group(2).strip()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)


def usage_block() -> list[str]:
    """The command lines of the README's usage example (`goreef review ...`), comments dropped."""
    (block,) = [b for b in code_blocks("sh") if "goreef review" in b]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_rule_table_is_generated_from_the_rules():
    assert current_table() == rules_table(), "README rule table is stale: run `python -m tests.test_readme`"
    printed = subprocess.run([GOREEF, "rules", "--markdown"], capture_output=True, text=True, timeout=60)
    assert printed.stdout.strip() == current_table()


@pytest.fixture
def feature_branch(tmp_path):
    """A clone whose branch left origin/main, with a committed and an uncommitted leak."""
    origin = GitRepo(tmp_path / "origin")
    origin.write("go.mod", "module demo\n\ngo 1.22\n")
    origin.write("main.go", BEFORE.replace("\tctx, _ := context.WithTimeout(parent, time.Second)\n", ""))
    origin.commit("base")
    origin.git("branch", "-M", "main")
    subprocess.run(["git", "clone", "-q", str(origin.root), str(tmp_path / "clone")], check=True)
    clone = GitRepo(tmp_path / "clone")
    clone.git("checkout", "-q", "-b", "feature")
    clone.write("pkg/server/handler.go", 'package server\n\nimport (\n\t"context"\n\t"time"\n)\n' + ADDED)
    clone.commit("handler")
    clone.write("main.go", BEFORE)  # uncommitted: the work tree
    return clone


def test_the_usage_examples_run_as_written(feature_branch):
    env = {**os.environ, "NO_COLOR": "1", "PATH": f"{Path(GOREEF).parent}{os.pathsep}{os.environ['PATH']}"}
    commands = usage_block()
    assert len(commands) == 7
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command}"],
            cwd=feature_branch.root,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        # 0 or 1 (a trap found), never a usage error.
        assert result.returncode in (0, 1) and not result.stderr.startswith("goreef:"), (command, result.stderr)
        if "goreef rules" not in command:
            reported = (
                result.stdout + (feature_branch.root / "goreef.sarif").read_text()
                if ".sarif" in command
                else result.stdout
            )
            assert "GR203" in reported, command
    # The first reviews only the uncommitted change; --base also the committed one.
    outputs = {
        c: subprocess.run(["bash", "-c", c], cwd=feature_branch.root, capture_output=True, text=True, env=env).stdout
        for c in commands[:3]
    }
    assert "main.go" in outputs[commands[0]] and "handler.go" not in outputs[commands[0]]
    assert "handler.go" in outputs[commands[2]] and "main.go" in outputs[commands[2]]


def test_the_configuration_example_is_a_valid_configuration():
    (block,) = [b for b in code_blocks("yaml") if "fail_on:" in b]
    config = load_config(block)
    assert config.rules == {"GR209": "off", "GR104": "error"} and config.ignores("internal/legacy/x/y.go")


def inline_commands() -> list[str]:
    """Every `goreef ...` the README's prose shows in a code span."""
    spans = re.findall(r"`(goreef [a-z][^`]*)`", README.read_text())
    return sorted(set(spans))


@pytest.mark.parametrize("command", inline_commands())
def test_every_goreef_command_the_readme_shows_is_accepted(command):
    # Placeholders are given values; the command line must parse as the README writes it.
    words = shlex.split(command.replace("GRNNN", "GR203").replace("C^", "HEAD~1").replace(" N", " 2"))
    words = [w for w in words if not (w.startswith("[") or w.endswith("]"))]  # [--optional N] forms
    if words[1] == "serve" and "[--port" in command:
        options = re.findall(r"\[(--[a-z-]+)", command)
        help_text = subprocess.run([GOREEF, "serve", "--help"], capture_output=True, text=True, timeout=60).stdout
        assert all(option in help_text for option in options), command
        return
    if len(words) == 2 and words[1] in ("check", "review", "replay", "serve"):  # the command named in prose
        words.append("--help")
        with pytest.raises(SystemExit) as exit_status:
            _parser().parse_args(words[1:])
        assert exit_status.value.code == 0
        return
    _parser().parse_args(words[1:])


def test_examples_this_file_does_not_run_are_tested_elsewhere():
    text = README.read_text()
    for example, test in TESTED_ELSEWHERE.items():
        path, name = test.split("::")
        assert example in text, example
        assert f"def {name}(" in (Path(__file__).parent.parent / path).read_text(), test


if __name__ == "__main__":
    README.write_text(SECTION.sub(lambda m: f"{m.group(1)}{rules_table()}\n{m.group(3)}", README.read_text()))
