"""The pre-commit hook (`.pre-commit-hooks.yaml`), run by `pre-commit try-repo` from this
checkout on a throw-away repository: a staged trap fails the commit, a staged clean change
passes. pre-commit installs goreef into a virtualenv of its own (the base install, no app)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.gitrepo import GitRepo
from tests.test_cli import ADDED, BEFORE

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def readme_block(heading: str, language: str) -> str:
    """The first `language` code block of the README's section `heading`."""
    section = (ROOT / "README.md").read_text().split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    # One hook environment for the module's runs, built afresh from this checkout.
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo: GitRepo, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(ROOT), "goreef", "--verbose"],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path / "project")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    repo.write("main.go", BEFORE)
    repo.commit("base")
    return repo


def test_a_staged_trap_fails_the_hook(repo, pre_commit_home):
    repo.write("main.go", BEFORE.replace("func main() {}\n", ADDED.lstrip() + "\nfunc main() {}\n"))
    repo.git("add", "main.go")
    result = try_repo(repo, pre_commit_home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "main.go:14: GR203 [error]" in result.stdout
    assert "main.go:9:" not in result.stdout  # the base's own trap is not the commit's


def test_a_staged_clean_change_passes_the_hook(repo, pre_commit_home):
    repo.write("main.go", BEFORE + "\n// a comment\n")
    repo.git("add", "main.go")
    result = try_repo(repo, pre_commit_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "goreef" in result.stdout and "Passed" in result.stdout


def test_the_readmes_pre_commit_config_runs_the_hook(repo, pre_commit_home):
    # The README's snippet as written, pointed at this checkout's committed HEAD.
    snippet = readme_block("## The pre-commit hook", "yaml")
    config = yaml.safe_load(snippet)
    [entry] = config["repos"]
    assert [hook["id"] for hook in entry["hooks"]] == [h["id"] for h in yaml.safe_load(HOOKS.read_text())]
    entry["repo"] = str(ROOT)
    entry["rev"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    repo.write(".pre-commit-config.yaml", yaml.safe_dump(config))
    repo.write("main.go", BEFORE.replace("func main() {}\n", ADDED.lstrip() + "\nfunc main() {}\n"))
    repo.git("add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(pre_commit_home), "NO_COLOR": "1"}
    result = subprocess.run(
        [str(PRE_COMMIT), "run", "--verbose"], cwd=repo.root, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "main.go:14: GR203 [error]" in result.stdout
