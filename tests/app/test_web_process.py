"""The web process keeps answering under slow and stalled clients (issue 12, failure 5).

gunicorn runs as the Procfile starts it, with its own Redis. Stalled uploads (headers sent,
the body never finished) and a stalled request (headers never finished) each hold at most
one thread, and only until `GOREEF_CLIENT_TIMEOUT`; health checks and GitHub's deliveries
are answered meanwhile.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.app.conftest import WEBHOOK_SECRET
from tests.app.emulator import GitHubEmulator
from tests.app.processes import gunicorn, private_redis, stalled_upload
from tests.app.webhooks import WebhookSender

STALLED = 8
CLIENT_TIMEOUT = "2"  # seconds a client may pause while sending


@pytest.fixture
def web_url(app_environment: None, tmp_path: Path) -> Iterator[str]:
    with (
        private_redis(tmp_path) as redis_url,
        gunicorn({**os.environ, "REDIS_URL": redis_url, "GOREEF_CLIENT_TIMEOUT": CLIENT_TIMEOUT}, tmp_path) as url,
    ):
        yield url


def stalled_request_line(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: goreef\r\nX-GitHub-")
    return connection


def test_stalled_clients_leave_the_endpoint_answering(web_url: str, emulator: GitHubEmulator) -> None:
    stalled = [stalled_upload(web_url) for _ in range(STALLED)] + [stalled_request_line(web_url)]

    health = requests.get(web_url + "/healthz", timeout=1)
    ping = WebhookSender(web_url, WEBHOOK_SECRET, emulator).deliver("ping", WebhookSender.ping())

    assert health.status_code == 200 and ping.status_code == 200
    # Each stalled connection is given up on once its client has paused CLIENT_TIMEOUT seconds:
    # an upload is told why, a request that never got its headers out is closed.
    answers = []
    for connection in stalled:
        connection.settimeout(30)
        answers.append(connection.recv(4096).split(b"\r\n", 1)[0])
        connection.close()
    assert answers == [b"HTTP/1.1 408 REQUEST TIMEOUT"] * STALLED + [b""]
