"""`GET /setup` and `GET /setup/callback`: register the GitHub App from its manifest, in two clicks.

Served only in setup mode (no App credentials yet). The page posts `app.yml` as a manifest
(GitHub's App manifest flow), its URLs pointed at this server (`GOREEF_PUBLIC_URL`, else the
host the request came to), to the new-App page of `GITHUB_URL` — the user's account, or an
organisation named in a first form — with a `state` this server signed, good for an hour. A plain
form with a hidden `manifest` input: no JavaScript. GitHub sends the browser back to the
callback with a code good once for an hour; the callback checks the state, exchanges the
code for the App's id, private key and webhook secret, and writes them to the env file
(`GOREEF_ENV_FILE`, else `.env` in the working directory), readable by its owner only. Both
processes read that file; `goreef serve` sees it and starts reviewing. The file is appended
to, never overwritten. Once credentials exist (in the environment or the file), both pages
answer 404.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import yaml
from flask import Blueprint, abort, request

from appcore.manifest import ManifestCodeRefused, convert_manifest
from appcore.settings import (
    DEFAULT_GITHUB_API_URL,
    env_file_path,
    has_app_credentials,
    process_environment,
)

DEFAULT_GITHUB_URL = "https://github.com"
MANIFEST = Path(__file__).resolve().parent.parent / "app.yml"
STATE_TTL = 3600  # seconds a registration may take: GitHub's codes live an hour too
STATE_SECRET_KEY = "goreef:setup-state-secret"
ORGANIZATION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}}
input,button{{font:inherit}}code{{background:#f6f8fa}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def setup_pages(store: redis.Redis) -> Blueprint:
    pages = Blueprint("setup", __name__)

    @pages.before_request
    def only_before_the_app_exists() -> None:
        if has_app_credentials(process_environment()):
            abort(404)

    @pages.get("/setup")
    def register() -> str:
        organization = request.args.get("organization", "").strip()
        if organization and not ORGANIZATION.match(organization):
            abort(400, "not a GitHub organisation name")
        state = _sign(_state_secret(store), f"{int(time.time())}.{secrets.token_urlsafe(12)}")
        public_url = (os.environ.get("GOREEF_PUBLIC_URL") or request.host_url).rstrip("/")
        manifest = _manifest(public_url)
        github = (os.environ.get("GITHUB_URL") or DEFAULT_GITHUB_URL).rstrip("/")
        owner = f"/organizations/{organization}" if organization else ""
        action = f"{github}{owner}/settings/apps/new?state={state}"
        permissions = "".join(
            f"<li><code>{escape(name)}</code>: {escape(level)}</li>"
            for name, level in manifest["default_permissions"].items()
        )
        events = ", ".join(f"<code>{escape(event)}</code>" for event in manifest["default_events"])
        unreachable = urlsplit(public_url).hostname in ("localhost", "127.0.0.1", "::1")
        warning = (
            "<p><strong>GitHub cannot reach this address:</strong> set <code>GOREEF_PUBLIC_URL</code> to the "
            "public URL that forwards to this server (a tunnel, a proxy) and open this page again.</p>"
            if unreachable
            else ""
        )
        body = warning + (
            f"<p>This creates a private GitHub App named <strong>{escape(manifest['name'])}</strong> "
            f"(GitHub lets you rename it) that sends its webhooks to "
            f"<code>{escape(manifest['hook_attributes']['url'])}</code>, with these permissions:</p>"
            f"<ul>{permissions}</ul><p>and these events: {events}. GitHub then sends you back here, and "
            "goreef keeps the App's id, private key and webhook secret in its env file.</p>"
            '<form method="get" action="/setup"><label>Owner: an organisation '
            f'<input name="organization" value="{escape(organization)}" placeholder="leave empty for your account">'
            "</label> <button>Choose</button></form>"
            f'<form method="post" action="{escape(action)}">'
            f'<input type="hidden" name="manifest" value="{escape(json.dumps(manifest))}">'
            f'<p><button id="create">Create the App on {escape(organization or "your account")}</button></p></form>'
        )
        return PAGE.format(title="Register goreef", body=body)

    @pages.get("/setup/callback")
    def callback() -> tuple[str, int] | str:
        code, state = request.args.get("code", ""), request.args.get("state", "")
        if not code or not _state_is_ours(_state_secret(store), state):
            return PAGE.format(
                title="Start again",
                body='<p>This link is unknown or expired. <a href="/setup">Register the App again</a>.</p>',
            ), 400
        try:
            app = convert_manifest(os.environ.get("GITHUB_API_URL") or DEFAULT_GITHUB_API_URL, code)
        except ManifestCodeRefused as error:
            return PAGE.format(
                title="GitHub refused the code",
                body=f"<p>GitHub answered {error.status}: the code is used or expired. "
                '<a href="/setup">Register the App again</a>.</p>',
            ), 502
        env_file = env_file_path()
        existed = env_file.exists()
        _write_credentials(env_file, app)
        install = f"{app['html_url']}/installations/new"
        body = (
            f"<p>The App <strong>{escape(app['name'])}</strong> exists, and its credentials are in "
            f"<code>{escape(str(env_file))}</code> ({'added to what it held, ' if existed else ''}readable by you only). "
            "<code>goreef serve</code> starts reviewing now; a Procfile runner needs a restart.</p>"
            f'<p>Next: <a id="install" href="{escape(install)}">install it</a> on the repositories to review.</p>'
        )
        return PAGE.format(title="goreef is registered", body=body)

    return pages


def _manifest(public_url: str) -> dict[str, Any]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    manifest["url"] = public_url
    manifest["hook_attributes"]["url"] = f"{public_url}/webhooks/github"
    manifest["redirect_url"] = f"{public_url}/setup/callback"
    return manifest


def _state_secret(store: redis.Redis) -> bytes:
    """One key for every web process and every request: a visitor of /setup writes nothing to Redis."""
    store.set(STATE_SECRET_KEY, secrets.token_bytes(32), nx=True)
    secret: bytes = store.get(STATE_SECRET_KEY)  # type: ignore[assignment]  # a sync client
    return secret


def _sign(secret: bytes, issued: str) -> str:
    return f"{issued}.{hmac.new(secret, issued.encode(), hashlib.sha256).hexdigest()}"


def _state_is_ours(secret: bytes, state: str) -> bool:
    """Signed here, and under an hour old."""
    issued, _, _ = state.rpartition(".")
    at = issued.partition(".")[0]
    fresh = at.isdigit() and 0 <= time.time() - int(at) < STATE_TTL
    return fresh and hmac.compare_digest(_sign(secret, issued), state)


def _write_credentials(env_file: Path, app: dict[str, Any]) -> None:
    """Appended, never overwriting (only /setup's guard lets a file without credentials get here);
    the key on one line, its newlines escaped."""
    lines = [
        f"# The GitHub App {app['slug']} ({app['html_url']}), registered by goreef's /setup",
        f"GITHUB_APP_ID={app['id']}",
        f"GITHUB_WEBHOOK_SECRET={app['webhook_secret']}",
        'GITHUB_PRIVATE_KEY="' + app["pem"].strip().replace("\n", "\\n") + '\\n"',
    ]
    descriptor = os.open(env_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)  # a file that was there before holds a secret from now on
    with os.fdopen(descriptor, "a") as file:
        file.write("\n".join(lines) + "\n")
