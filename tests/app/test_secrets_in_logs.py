"""No secret reaches a log: the web app and the worker, captured at DEBUG through whole reviews.

The review goes through the paths that log the most: a bad signature, a token grant, a
refused (expired) token, a server error and the retry it causes. PyGithub at DEBUG logs
every response body, token grants included, so this fails without the redaction."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from appcore.settings import Settings
from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every record any logger of this process (web app, worker, libraries) writes, at DEBUG:
    PyGithub's own logger too, as an operator chasing a problem would set it."""
    root, handler = logging.getLogger(), Lines()
    loggers = [root, logging.getLogger("github")]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def test_secrets_never_reach_the_logs(
    worker: None,
    deliver,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    repo: str,
    settings: Settings,
    logs: list[str],
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.before("GET", f"/pulls/{number}/files", emulator.expire_tokens)
    emulator.before("POST", f"/pulls/{number}/reviews", lambda: emulator.fail_next(1, 502))
    payload = webhooks.pull_request(repo, number, "opened")

    assert webhooks.deliver("pull_request", payload, signature="sha256=" + "0" * 64).status_code == 401
    [outcome] = deliver("pull_request", payload)

    log = "\n".join(logs)
    assert outcome["status"] == "failure"
    assert "access_tokens" in log and "502" in log and "Bad credentials" in log  # the noisy paths were logged
    key_lines = [line for line in settings.private_key.splitlines() if "PRIVATE KEY" not in line]
    secrets = [settings.webhook_secret, *key_lines, *emulator.issued_tokens]
    assert len(emulator.issued_tokens) >= 3  # two installation tokens and the App's JWTs at least
    assert [secret for secret in secrets if secret in log] == []
