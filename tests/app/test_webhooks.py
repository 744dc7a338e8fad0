"""The webhook endpoint over real HTTP with a real Redis: what it accepts, refuses and enqueues.

No worker runs here: the jobs stay in the queue, where the tests read them.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import requests

from appcore.claims import HeadClaims
from appcore.settings import Settings
from reviewers.github_core import ReviewJob
from tests.app.conftest import WEBHOOK_SECRET
from tests.app.emulator import GitHubEmulator
from tests.app.processes import free_port, private_redis
from tests.app.serving import serve
from tests.app.webhooks import BOT, WebhookSender, sign
from webapp import create_app
from webapp.markdown import to_html


def test_a_push_to_a_pull_request_enqueues_its_head(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    number = emulator.open_pull(repo, {"main.go": b"package main\n"})

    response = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert response.status_code == 202
    assert response.json()["status"] == "enqueued"
    assert queued() == [
        {
            "installation_id": 77,
            "repository": repo,
            "head_sha": emulator.pull(repo, number).head_sha,
            "pull_number": number,
            "base_sha": None,
            "rerun": False,
        }
    ]


@pytest.mark.parametrize(
    "signature", ["", "sha256=" + "0" * 64, "sha1=deadbeef"], ids=["missing", "wrong", "other-algorithm"]
)
def test_a_bad_signature_is_refused_and_nothing_enqueued(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued, signature: str
) -> None:
    number = emulator.open_pull(repo, {})

    response = webhooks.deliver("pull_request", webhooks.pull_request(repo, number), signature=signature)

    assert response.status_code == 401
    assert queued() == []


def test_a_signature_over_another_body_is_refused(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    number = emulator.open_pull(repo, {})
    payload = webhooks.pull_request(repo, number)
    signature = sign(WEBHOOK_SECRET, json.dumps(payload).encode())
    payload["pull_request"]["head"]["sha"] = "f" * 40

    assert webhooks.deliver("pull_request", payload, signature=signature).status_code == 401
    assert queued() == []


def test_a_head_a_worker_has_taken_up_is_a_duplicate_whatever_the_event(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued, redis_client: redis.Redis
) -> None:
    number = emulator.open_pull(repo, {})
    synchronize = webhooks.pull_request(repo, number, "synchronize")
    assert webhooks.deliver("pull_request", synchronize, delivery="d-1").json()["status"] == "enqueued"
    [job] = queued()
    assert HeadClaims(redis_client).take(ReviewJob(**job), "task-1", ttl=60)  # as the worker does

    redelivered = webhooks.deliver("pull_request", synchronize, delivery="d-1")
    same_push = webhooks.deliver("check_suite", webhooks.check_suite(repo, number, "requested"))

    assert [redelivered.json()["status"], same_push.json()["status"]] == ["duplicate", "duplicate"]
    assert len(queued()) == 1


def test_a_head_no_worker_has_taken_up_yet_is_queued_again(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    # "duplicate" only ever answers for a job that is queued; the worker that comes second
    # finds the head taken and stops there.
    payload = webhooks.pull_request(repo, emulator.open_pull(repo, {}))

    first = webhooks.deliver("pull_request", payload, delivery="d-2")
    second = webhooks.deliver("pull_request", payload, delivery="d-2")

    assert (first.json()["status"], second.json()["status"]) == ("enqueued", "enqueued")
    assert len(queued()) == 2


def test_the_rerun_button_enqueues_the_same_head_again(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    number = emulator.open_pull(repo, {})
    head = emulator.pull(repo, number).head_sha

    webhooks.deliver("pull_request", webhooks.pull_request(repo, number))
    webhooks.deliver("check_run", webhooks.check_run_rerequested(repo, head))
    webhooks.deliver("check_suite", webhooks.check_suite(repo, number, "rerequested"))

    assert [(job["head_sha"], job["rerun"]) for job in queued()] == [(head, False), (head, True), (head, True)]


def test_a_merge_group_is_reviewed_against_its_base(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    number = emulator.open_pull(repo, {})
    head, base = emulator.pull(repo, number).head_sha, emulator.repo(repo).branches["main"]

    assert webhooks.deliver("merge_group", webhooks.merge_group(repo, head, base)).status_code == 202
    assert queued() == [
        {
            "installation_id": 77,
            "repository": repo,
            "head_sha": head,
            "pull_number": None,
            "base_sha": base,
            "rerun": False,
        }
    ]


@pytest.mark.parametrize(
    ("event", "action", "reason"),
    [
        ("pull_request", "closed", "pull_request.closed is not reviewed"),
        ("pull_request", "labeled", "pull_request.labeled is not reviewed"),
        ("issues", "opened", "goreef does not act on issues events"),
    ],
)
def test_other_events_are_ignored_and_say_so(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued, event: str, action: str, reason: str
) -> None:
    payload = webhooks.pull_request(repo, emulator.open_pull(repo, {}), action)

    response = webhooks.deliver(event, payload)

    assert response.status_code == 202
    assert response.json() == {"status": "ignored", "reason": reason}
    assert queued() == []


def test_check_events_sent_by_bots_start_no_review(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    payload = webhooks.check_suite(repo, emulator.open_pull(repo, {}), "requested", sender=BOT)

    assert webhooks.deliver("check_suite", payload).json()["status"] == "ignored"
    assert queued() == []


def test_pull_requests_opened_by_bots_are_reviewed(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    # Dependabot's pull requests need the required goreef check like any other.
    payload = webhooks.pull_request(repo, emulator.open_pull(repo, {}), "opened", sender=BOT)

    assert webhooks.deliver("pull_request", payload).json()["status"] == "enqueued"
    assert len(queued()) == 1


def test_draft_pull_requests_wait_until_ready(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, queued
) -> None:
    number = emulator.open_pull(repo, {})
    draft = webhooks.pull_request(repo, number, "opened")
    draft["pull_request"]["draft"] = True
    ready = webhooks.pull_request(repo, number, "ready_for_review")

    assert webhooks.deliver("pull_request", draft).json()["status"] == "ignored"
    assert webhooks.deliver("pull_request", ready).json()["status"] == "enqueued"
    assert len(queued()) == 1


def test_ping_answers(webhooks: WebhookSender) -> None:
    response = webhooks.deliver("ping", webhooks.ping())
    assert (response.status_code, response.json()["status"]) == (200, "pong")


def test_installation_events_are_answered_and_kept_nowhere(
    webhooks: WebhookSender, redis_client: redis.Redis, queued
) -> None:
    # Nothing reads a list of installations (a review asks GitHub for its token): none is kept.
    before = set(redis_client.keys("goreef:*"))
    for action in ("created", "deleted"):
        answer = webhooks.deliver("installation", webhooks.installation(901, "initech", action, ["initech/api"]))
        assert (answer.status_code, answer.json()["status"]) == (202, "noted")
    assert not {k for k in set(redis_client.keys("goreef:*")) - before if b"installation" in k}
    assert queued() == []


@pytest.mark.parametrize(
    ("headers_missing", "body"),
    [
        ("X-GitHub-Event", b"{}"),
        ("X-GitHub-Delivery", b"{}"),
        (None, b"{not json"),
        (None, b"[1, 2]"),
        (None, b'{"action": "opened"}'),
    ],
    ids=["no-event", "no-delivery", "not-json", "not-an-object", "not-a-pull-request"],
)
def test_malformed_deliveries_are_bad_requests(
    webapp_url: str, queued, headers_missing: str | None, body: bytes
) -> None:
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "d-bad",
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    headers.pop(headers_missing, None)

    response = requests.post(webapp_url + "/webhooks/github", data=body, headers=headers, timeout=10)

    assert response.status_code == 400
    assert queued() == []


@pytest.mark.parametrize("chunked", [False, True], ids=["declared-length", "chunked"])
def test_a_body_over_25_mb_is_refused(webapp_url: str, queued, chunked: bool) -> None:
    body = b" " * (25 * 1024 * 1024 + 1)
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "d-big",
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    # Sent in chunks, the body declares no length: the limit must hold while it is read.
    megabyte = 1 << 20
    data = (body[i : i + megabyte] for i in range(0, len(body), megabyte)) if chunked else body

    response = requests.post(webapp_url + "/webhooks/github", data=data, headers=headers, timeout=30)

    assert response.status_code == 413
    assert queued() == []


def test_redis_down_means_503_and_not_ready(settings: Settings, emulator: GitHubEmulator, repo: str) -> None:
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    server, url = serve(create_app(replace(settings, redis_url=nothing_listens)))
    try:
        sender = WebhookSender(url, WEBHOOK_SECRET, emulator)
        response = sender.deliver("pull_request", sender.pull_request(repo, emulator.open_pull(repo, {})))

        assert response.status_code == 503
        assert requests.get(url + "/readyz", timeout=10).status_code == 503
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
    finally:
        server.shutdown()


def test_health_and_metrics(webapp_url: str, webhooks: WebhookSender) -> None:
    webhooks.deliver("ping", webhooks.ping())

    assert requests.get(webapp_url + "/readyz", timeout=10).json() == {"status": "ready", "redis": "REDIS_URL"}
    metrics = requests.get(webapp_url + "/metrics", timeout=10).text
    assert re.search(r'^goreef_webhook_deliveries_total\{event="ping",outcome="pong"\} [1-9]', metrics, re.M)
    assert "goreef_queue_depth " in metrics and "goreef_review_duration_seconds_bucket" in metrics


# Nothing an unauthenticated request sends is kept (issue 12, failure 4)


def snapshot(store: redis.Redis) -> dict[bytes, bytes]:
    """Every key of the database and its serialized value."""
    return {key: store.dump(key) for key in store.scan_iter()}


def test_a_flood_of_unsigned_deliveries_leaves_redis_and_the_logs_as_they_were(
    settings: Settings, emulator: GitHubEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with private_redis(tmp_path) as redis_url:
        server, url = serve(create_app(replace(settings, redis_url=redis_url)))
        try:
            store = redis.Redis.from_url(redis_url)
            session = requests.Session()
            sender = WebhookSender(url, WEBHOOK_SECRET, emulator)
            sender.deliver("ping", sender.ping())  # a signed delivery: counted, as it should be
            before, memory = snapshot(store), store.info("memory")["used_memory"]
            events = [f"ev-{secrets.token_hex(4096)}" for _ in range(200)]  # 8 KB each, all different

            answers = [
                session.post(
                    url + "/webhooks/github",
                    data=b"{}",
                    headers={"X-GitHub-Event": event, "X-GitHub-Delivery": event, "X-Hub-Signature-256": "sha256=0"},
                    timeout=10,
                ).status_code
                for event in events
            ]

            assert answers == [401] * len(events)
            assert snapshot(store) == before
            assert store.info("memory")["used_memory"] - memory < 64 * 1024  # 200 × 8 KB would be 1.6 MB
            assert "refused a request to the webhook endpoint: unauthorized" in caplog.text
            assert not any(event[:64] in caplog.text for event in events)
            metrics = requests.get(url + "/metrics", timeout=10).text
            assert 'goreef_webhook_refused_total{reason="unauthorized"} 200.0' in metrics
        finally:
            server.shutdown()


def test_events_goreef_does_not_know_are_counted_as_other(webhooks: WebhookSender, webapp_url: str) -> None:
    unknown = f"made-up-{secrets.token_hex(8)}"

    assert webhooks.deliver(unknown, {}).json()["status"] == "ignored"

    metrics = requests.get(webapp_url + "/metrics", timeout=10).text
    assert re.search(r'^goreef_webhook_deliveries_total\{event="other",outcome="ignored"\} [1-9]', metrics, re.M)
    assert unknown not in metrics


def test_rule_pages_render_the_rule_docs(webapp_url: str) -> None:
    index = requests.get(webapp_url + "/rules", timeout=10)
    page = requests.get(webapp_url + "/rules/gr203", timeout=10)

    assert index.status_code == 200 and 'href="/rules/GR203"' in index.text
    assert page.status_code == 200 and "<h2>What it does</h2>" in page.text
    assert "<h1>GR203 cancel-discarded</h1>" in page.text and "the cancel function of a derived context" in page.text
    assert requests.get(webapp_url + "/rules/GR999", timeout=10).status_code == 404


def test_rule_pages_in_chinese(webapp_url: str) -> None:
    index = requests.get(webapp_url + "/rules?lang=zh-CN", timeout=10)
    page = requests.get(webapp_url + "/rules/GR203?lang=zh-CN", timeout=10)
    english = requests.get(webapp_url + "/rules/GR203", timeout=10)

    assert (
        index.status_code == 200 and 'href="/rules/GR203?lang=zh-CN"' in index.text and "context 取消失效" in index.text
    )
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert "<h1>GR203 cancel-discarded</h1>" in page.text and "<h2>为什么这是问题？</h2>" in page.text
    assert '<a href="/rules?lang=zh-CN">全部规则</a> · 严重程度 <strong>错误</strong>' in page.text
    # The same code examples as the English page.
    assert re.findall(r"<pre>.*?</pre>", page.text, re.S) == re.findall(r"<pre>.*?</pre>", english.text, re.S)
    assert requests.get(webapp_url + "/rules/GR203?lang=fr", timeout=10).status_code == 404


def test_markdown_is_escaped_and_structured() -> None:
    html = to_html("# Title <b>\n\nUse `ctx <- x` **now**.\n\n```go\nif a < b {}\n```\n- one\n- two")

    assert html.splitlines() == [
        "<h1>Title &lt;b&gt;</h1>",
        "<p>Use <code>ctx &lt;- x</code> <strong>now</strong>.</p>",
        '<pre><code class="language-go">if a &lt; b {}</code></pre>',
        "<ul><li>one</li><li>two</li></ul>",
    ]
