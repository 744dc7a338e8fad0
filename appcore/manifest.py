"""The App manifest flow's one GitHub call: converting the code GitHub hands back after the
App was created into its credentials (the /setup pages)."""

from __future__ import annotations

from typing import Any

from github import Github, GithubException


class ManifestCodeRefused(Exception):
    """GitHub would not convert a manifest code: used already, expired, or never issued."""

    def __init__(self, status: int):
        super().__init__(f"GitHub answered {status}")
        self.status = status


def convert_manifest(github_api_url: str, code: str) -> dict[str, Any]:
    """The App GitHub made from a manifest: its id, slug, html_url, pem and webhook_secret.

    The code GitHub hands back after the App was created is the only credential: good once,
    for an hour."""
    try:
        _, app = Github(base_url=github_api_url).requester.requestJsonAndCheck(
            "POST", f"/app-manifests/{code}/conversions"
        )
    except GithubException as error:
        raise ManifestCodeRefused(error.status) from None
    return app
