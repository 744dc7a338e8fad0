"""goreef as a GitHub Action step (`action.yml`): review the pull request of a `pull_request`
event, as the app would, with the workflow's token.

It reads what GitHub Actions sets: GITHUB_EVENT_PATH (the event), GITHUB_TOKEN,
GITHUB_API_URL, GITHUB_REPOSITORY and GITHUB_WORKSPACE (the pull request's head, checked out),
and the action's inputs: GOREEF_POST_REVIEW (`true`: post the review), GOREEF_SARIF_FILE (a
path, relative to the workspace, to write SARIF to; empty: none) and GOREEF_FAIL_ON (overrides
the configuration's). The changed files and their patches come from GitHub, as the app reads
them (the lines GitHub takes comments on); their contents from the checkout. The configuration
is `.github/goreef.yml` of the base commit: a pull request cannot switch off what judges it.

The review posted is the app's: inline comments with suggestions, each carrying its finding's
fingerprint, and none for a finding already commented on the pull request.

Exit status as `goreef review`: 1 when a finding reaches `fail_on`, 2 when it cannot review.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from github import GithubException

from reviewers import Config, ConfigError, from_patches, load_config
from reviewers import github_core as core
from reviewers.cli import review_work_tree
from reviewers.config import CONFIG_PATH, FAIL_ON
from reviewers.render.sarif import render_sarif
from reviewers.render.text import render_text
from workers.github_client import RepositoryClient, WorkflowGitHub
from workers.posting import plan_new_comments, post_review

DEFAULT_API_URL = "https://api.github.com"


class ActionError(Exception):
    """The step cannot review: reported on one line, exit status 2."""


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        return run(environ)
    except ActionError as error:
        print(f"::error title=goreef::{error}", flush=True)
        return 2
    except GithubException as error:
        print(f"::error title=goreef::GitHub answered {error.status}: {error.data}", flush=True)
        return 2


def run(environ: Mapping[str, str]) -> int:
    event = _event(environ)
    pull = event["pull_request"]
    number, base_sha, head_sha = pull["number"], pull["base"]["sha"], pull["head"]["sha"]
    workspace = Path(_required(environ, "GITHUB_WORKSPACE"))
    docs_url = environ.get("GOREEF_DOCS_URL") or None
    github = WorkflowGitHub(_required(environ, "GITHUB_TOKEN"), environ.get("GITHUB_API_URL") or DEFAULT_API_URL)
    repo = github.repository(_required(environ, "GITHUB_REPOSITORY"))

    config, note = _configuration(repo, base_sha)
    if fail_on := environ.get("GOREEF_FAIL_ON", "").strip():
        if fail_on not in FAIL_ON:
            raise ActionError(f"fail-on {fail_on!r}: expected one of {', '.join(FAIL_ON)}")
        config = config.with_overrides(fail_on=fail_on)
    changes = from_patches(repo.changed_files(number))
    result = review_work_tree(changes, workspace, config)
    if note:
        result.notes.insert(0, note)
    sys.stdout.write(render_text(result, colour=False, language=config.language))

    if sarif_file := environ.get("GOREEF_SARIF_FILE", "").strip():
        (workspace / sarif_file).write_text(render_sarif(result, docs_url, language=config.language))
        print(f"SARIF written to {sarif_file}")
    plan = None
    if environ.get("GOREEF_POST_REVIEW", "true").strip().lower() == "true":
        plan = _post(repo, number, head_sha, result, changes, config, docs_url)
    if summary_path := environ.get("GITHUB_STEP_SUMMARY"):
        output = core.check_run_payload(result, config, docs_url, plan)["output"]
        with open(summary_path, "a", encoding="utf-8") as summary:
            summary.write(f"## {output['title']}\n\n{output['summary']}\n")
    return 1 if config.fails(result.findings) else 0


def _post(repo: RepositoryClient, number: int, head_sha: str, result, changes, config: Config, docs_url: str | None):
    plan, _ = plan_new_comments(repo, number, head_sha, result, changes, config, docs_url)
    try:
        plan = post_review(repo, number, head_sha, plan)
    except GithubException as error:
        if error.status != 403:
            raise
        # A pull request from a fork gets a read-only token: the findings stay in the log, the
        # step summary and the SARIF.
        print(f"::warning title=goreef::the workflow's token may not post a review (GitHub answered 403): {error}")
        return None
    print(f"{len(plan.comments)} new comment(s) posted on #{number}")
    return plan


def _event(environ: Mapping[str, str]) -> dict[str, Any]:
    path = _required(environ, "GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ActionError(f"GITHUB_EVENT_PATH {path}: {error}") from error
    if not isinstance(event, dict) or not isinstance(event.get("pull_request"), dict):
        raise ActionError("the event has no pull request: run goreef `on: pull_request`")
    return event


def _configuration(repo: RepositoryClient, base_sha: str) -> tuple[Config, str | None]:
    """The repository's configuration at the base commit (defaults when there is none), and a
    note when it is malformed (the defaults are used then, as the app does)."""
    text = repo.file(CONFIG_PATH, base_sha)
    if text is None:
        return Config(), None
    try:
        return load_config(text), None
    except ConfigError as error:
        return Config(), f"{CONFIG_PATH} is malformed, so the defaults were used: {error}"


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise ActionError(f"{name} is not set: goreef runs as a step of a GitHub Actions job")
    return value


if __name__ == "__main__":
    sys.exit(main())
