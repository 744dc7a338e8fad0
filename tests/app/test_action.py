"""The GitHub Action's entry point (`python -m workers.action`, what `action.yml` runs), run as
a job runs it: a real `pull_request` event file at GITHUB_EVENT_PATH, the pull request's head
checked out with git at GITHUB_WORKSPACE, the job's token, and GitHub the emulator."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from reviewers.github_core import FINGERPRINT_RE
from tests.app.changes import CLEAN_ADDITION, LEAK_LINE, LEAKING_PRICE, PRICE
from tests.app.conftest import INSTALLATION
from tests.app.emulator import GitHubEmulator
from tests.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
# A second trap, whose fix is mechanical: its comment carries a one-click suggestion.
DEADLINE = "fetch/deadline.go"
LEAKING_DEADLINE = b"""package fetch

import (
	"context"
	"time"
)

func withDeadline(parent context.Context) context.Context {
	c, _ := context.WithTimeout(parent, 5*time.Second)
	return c
}
"""


def checkout(tmp_path: Path, emulator: GitHubEmulator, repo: str, number: int) -> Path:
    """A git checkout of the pull request's head, as actions/checkout leaves it."""
    if (tmp_path / "workspace").exists():
        return tmp_path / "workspace"
    workspace = GitRepo(tmp_path / "workspace")
    head = emulator.repo(repo).commits[emulator.pull(repo, number).head_sha]
    for path, data in head.tree.items():
        workspace.write(path, data)
    workspace.commit("head")
    return workspace.root


def run_action(
    tmp_path: Path, emulator: GitHubEmulator, repo: str, number: int, **inputs: str
) -> subprocess.CompletedProcess:
    event = tmp_path / "event.json"
    pull = emulator.pull_json(repo, number)
    event.write_text(json.dumps({"action": "synchronize", "number": number, "pull_request": pull}))
    summary = tmp_path / "summary.md"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GOREEF_"))},
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_TOKEN": emulator.grant_token(INSTALLATION),
        "GITHUB_API_URL": emulator.url,
        "GITHUB_REPOSITORY": repo,
        "GITHUB_WORKSPACE": str(checkout(tmp_path, emulator, repo, number)),
        "GITHUB_STEP_SUMMARY": str(summary),
        **{f"GOREEF_{name.upper()}": value for name, value in inputs.items()},
    }
    return subprocess.run(
        [sys.executable, "-m", "workers.action"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_a_trap_is_commented_once_and_fails_the_step(tmp_path, emulator: GitHubEmulator, repo: str) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE, DEADLINE: LEAKING_DEADLINE})

    first = run_action(tmp_path, emulator, repo, number)

    assert first.returncode == 1, first.stdout + first.stderr
    assert f"{PRICE}:{LEAK_LINE}: GR203 [error]" in first.stdout
    comments = sorted(emulator.comments(repo, number), key=lambda c: c["path"])
    assert [(c["path"], c["line"]) for c in comments] == [(DEADLINE, 9), (PRICE, LEAK_LINE)]
    assert all(FINGERPRINT_RE.search(c["body"]) for c in comments)
    assert (
        "```suggestion\n\tc, cancel := context.WithTimeout(parent, 5*time.Second)\n\tdefer cancel()"
        in comments[0]["body"]
    )
    assert "GR203" in (tmp_path / "summary.md").read_text()

    second = run_action(tmp_path, emulator, repo, number)

    assert second.returncode == 1, second.stdout + second.stderr
    assert len(emulator.comments(repo, number)) == 2  # already commented: nothing new
    assert len(emulator.reviews(repo, number)) == 1
    assert "0 new comment(s)" in second.stdout


def test_a_clean_change_posts_nothing_and_passes(tmp_path, emulator: GitHubEmulator, repo: str) -> None:
    number = emulator.open_pull(repo, {PRICE: CLEAN_ADDITION})

    result = run_action(tmp_path, emulator, repo, number, sarif_file="goreef.sarif")

    assert result.returncode == 0, result.stdout + result.stderr
    assert emulator.reviews(repo, number) == [] and emulator.comments(repo, number) == []
    sarif = json.loads((tmp_path / "workspace" / "goreef.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []


def test_fail_on_is_honoured_and_sarif_holds_the_trap(
    tmp_path, emulator: GitHubEmulator, go_tree: dict[str, bytes], request
) -> None:
    repo = "acme/" + re.sub(r"[^\w.-]+", "-", request.node.name)
    emulator.create_repo(repo, {**go_tree, ".github/goreef.yml": b"fail_on: never\n"}, installation_id=INSTALLATION)
    # The pull request cannot make itself laxer or stricter: the base commit's configuration stands.
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE, ".github/goreef.yml": b"fail_on: warning\n"})

    result = run_action(tmp_path, emulator, repo, number, post_review="false", sarif_file="goreef.sarif")

    assert result.returncode == 0, result.stdout + result.stderr
    assert emulator.reviews(repo, number) == []  # post-review: false
    [finding] = json.loads((tmp_path / "workspace" / "goreef.sarif").read_text())["runs"][0]["results"]
    assert finding["ruleId"] == "GR203"

    # The step's fail-on input overrides the file's.
    assert run_action(tmp_path, emulator, repo, number, post_review="false", fail_on="error").returncode == 1


def test_an_event_without_a_pull_request_is_refused_in_one_line(tmp_path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    env = {**os.environ, "GITHUB_EVENT_PATH": str(event)}
    result = subprocess.run([sys.executable, "-m", "workers.action"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "::error title=goreef::the event has no pull request" in result.stdout


def test_the_readme_workflow_uses_the_actions_real_inputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## The GitHub Action\n", 1)[1].split("\n## ", 1)[0]
    workflow = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert workflow[True] == {"pull_request": None} or "pull_request" in workflow[True]  # `on:` reads as True
    [job] = workflow["jobs"].values()
    [goreef] = [step for step in job["steps"] if "goreef" in step.get("uses", "") and "codeql" not in step["uses"]]
    assert set(goreef.get("with", {})) <= set(action["inputs"])
    assert {"post-review", "sarif-file"} <= set(goreef["with"])
    [upload] = [step for step in job["steps"] if step.get("uses", "").startswith("github/codeql-action/upload-sarif")]
    assert upload["with"]["sarif_file"] == goreef["with"]["sarif-file"]
    assert job["permissions"]["pull-requests"] == "write" and job["permissions"]["security-events"] == "write"
    [checkout_step] = [step for step in job["steps"] if step.get("uses", "").startswith("actions/checkout")]
    assert checkout_step["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert action["runs"]["using"] == "composite"
    assert any("workers.action" in step.get("run", "") for step in action["runs"]["steps"])


def test_a_read_only_token_warns_and_still_fails_on_the_trap(tmp_path, emulator: GitHubEmulator, repo: str) -> None:
    # A fork's pull request: GitHub gives the job a token that may not post the review.
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, fork_owner="contributor")
    emulator.fail_next(5, 403, message="Resource not accessible by integration", method="POST", path="/reviews$")

    result = run_action(tmp_path, emulator, repo, number)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "::warning title=goreef::the workflow's token may not post a review" in result.stdout
    assert f"{PRICE}:{LEAK_LINE}: GR203 [error]" in result.stdout
    assert emulator.comments(repo, number) == []
