"""Webhook deliveries as GitHub sends them: payloads shaped like @octokit/webhooks-examples, signed
with the App's secret, posted over HTTP to the webhook endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

import requests

from tests.app.emulator import GitHubEmulator

USER = {"login": "octocat", "id": 1, "type": "User"}
BOT = {"login": "goreef[bot]", "id": 2, "type": "Bot"}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, url: str, secret: str, emulator: GitHubEmulator):
        self.url = url + "/webhooks/github"
        self._secret = secret
        self._github = emulator

    def deliver(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery: str | None = None,
        signature: str | None = None,
        body: bytes | None = None,
    ) -> requests.Response:
        body = json.dumps(payload).encode() if body is None else body
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/test",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(self._secret, body) if signature is None else signature,
        }
        return requests.post(self.url, data=body, headers=headers, timeout=10)

    # Payloads built from the emulator's state

    def pull_request(self, repo: str, number: int, action: str = "synchronize", *, sender: dict = USER) -> dict:
        pull = self._github.pull_json(repo, number)
        return {"action": action, "number": number, "pull_request": pull, **self._envelope(repo, sender)}

    def check_suite(self, repo: str, number: int, action: str = "requested", *, sender: dict = USER) -> dict:
        pull = self._github.pull_json(repo, number)
        suite = {
            "id": 5,
            "head_branch": pull["head"]["ref"],
            "head_sha": pull["head"]["sha"],
            "status": "queued",
            "pull_requests": self._github.pull_refs(repo, pull["head"]["sha"]),
            "app": {"id": self._github.app_id, "slug": "goreef"},
        }
        return {"action": action, "check_suite": suite, **self._envelope(repo, sender)}

    def check_run_rerequested(self, repo: str, head_sha: str) -> dict:
        """The Re-run button pressed on goreef's latest check run of `head_sha` (one made up like
        it when the emulator holds none)."""
        runs = self._github.check_runs(repo, head_sha)
        run = (
            self._github.check_run_json(repo, runs[-1]["id"])
            if runs
            else {
                "id": 9,
                "name": "goreef",
                "head_sha": head_sha,
                "status": "completed",
                "conclusion": "failure",
                "check_suite": {"id": 5, "head_sha": head_sha},
                "external_id": "",
                "pull_requests": self._github.pull_refs(repo, head_sha),
            }
        )
        return {
            "action": "rerequested",
            "check_run": {**run, "app": {"id": self._github.app_id, "slug": "goreef"}},
            **self._envelope(repo, USER),
        }

    def merge_group(self, repo: str, head_sha: str, base_sha: str) -> dict:
        group = {
            "head_sha": head_sha,
            "head_ref": "refs/heads/gh-readonly-queue/main/pr-1-" + head_sha[:8],
            "base_sha": base_sha,
            "base_ref": "refs/heads/main",
        }
        return {"action": "checks_requested", "merge_group": group, **self._envelope(repo, USER)}

    @staticmethod
    def ping() -> dict:
        return {"zen": "Keep it logically awesome.", "hook_id": 1, "hook": {"type": "App", "events": ["pull_request"]}}

    @staticmethod
    def installation(installation_id: int, account: str, action: str, repositories: list[str]) -> dict:
        return {
            "action": action,
            "installation": {
                "id": installation_id,
                "account": {"login": account, "type": "Organization"},
                "repository_selection": "selected",
            },
            "repositories": [{"full_name": name, "name": name.split("/")[1], "private": True} for name in repositories],
            "sender": USER,
        }

    def _envelope(self, repo: str, sender: dict) -> dict:
        state = self._github.repo(repo)
        return {
            "repository": {
                "id": state.id,
                "name": state.name,
                "full_name": state.full_name,
                "private": True,
                "owner": {"login": state.owner, "type": "Organization"},
                "default_branch": state.default_branch,
            },
            "installation": {"id": state.installation_id, "node_id": f"MDIz{state.installation_id}"},
            "sender": sender,
        }
