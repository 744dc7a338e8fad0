"""The gate never opens by failing (issue 12, failure 1): a pull request too big to read in
time, against a slow GitHub, must not become mergeable.

A worker as the Procfile runs it, with a short time limit, reviews pull requests whose every
file GitHub serves late. Files not read by the reading deadline are reviewed from their diff;
the review posts what it found and concludes `failure` when that reaches `fail_on`, else
`on_error`, whose default is `failure`. No in-process worker runs here.
"""

from __future__ import annotations

import re

import pytest
from celery.result import AsyncResult

from tests.app.conftest import INSTALLATION, only_check_run, repo_name
from tests.app.emulator import GitHubEmulator, blob_sha
from tests.app.webhooks import WebhookSender
from workers.celery_app import app as celery_app

FILES = 24
TIME_LIMIT = "3"  # seconds: files are read for half of it
LATENCY = 0.8  # seconds GitHub takes to serve each file: reading them 8 at a time would take 2.4 s


def package_file(index: int, body: str) -> bytes:
    return (
        f'package pkg\n\nimport (\n\t"context"\n\t"time"\n)\n\n'
        f"func Fetch{index}(ctx context.Context) error {{\n{body}\treturn ctx.Err()\n}}\n"
    ).encode()


BASE = "\t_ = time.Second\n"
CLEAN = "\t// A changed line that hides no trap.\n"
LEAK = "\tctx, _ = context.WithTimeout(ctx, time.Second)\n"


@pytest.mark.parametrize(
    ("change", "configuration", "conclusion"),
    [(LEAK, None, "failure"), (CLEAN, None, "failure"), (CLEAN, b"on_error: neutral\n", "neutral")],
    ids=["a-trap-in-every-file", "clean-files-default-on_error", "clean-files-on_error-neutral"],
)
def test_a_review_out_of_reading_time_posts_what_it_found_and_does_not_pass(
    worker_processes,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    go_tree: dict[str, bytes],
    request: pytest.FixtureRequest,
    change: str,
    configuration: bytes | None,
    conclusion: str,
) -> None:
    repo = repo_name(request)
    base = {f"pkg/f{i:02d}.go": package_file(i, BASE) for i in range(FILES)}
    config = {".github/goreef.yml": configuration} if configuration else {}
    emulator.create_repo(repo, {**go_tree, **base, **config}, installation_id=INSTALLATION)
    number = emulator.open_pull(repo, {f"pkg/f{i:02d}.go": package_file(i, BASE + change) for i in range(FILES)})
    emulator.delay(LATENCY, method="GET", path=r"/git/blobs/")
    worker_processes(pool="prefork", GOREEF_TASK_TIME_LIMIT=TIME_LIMIT)

    [task] = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "opened")).json()["tasks"]
    outcome = AsyncResult(task["task_id"], app=celery_app).get(timeout=30)

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    changed = {blob_sha(package_file(i, BASE + change)) for i in range(FILES)}
    read = {p for m, p, _ in emulator.requests if m == "GET" and p.rpartition("/git/blobs/")[2] in changed}
    [unread] = re.findall(r"; (\d+) file\(s\) could not be read in time: Re-run to finish$", run["output"]["title"])
    assert 0 < len(read) < FILES  # the deadline cut the reading short, and not before it began
    assert int(unread) >= FILES - len(read)  # go.mod lookups count too
    assert (outcome["status"], outcome["complete"]) == (conclusion, False)
    assert (run["status"], run["conclusion"]) == ("completed", conclusion)
    assert f"{unread} file(s) could not be read from GitHub before the review had to finish" in run["output"]["summary"]
    if change == LEAK:  # what it found is posted: the files not read were reviewed from their diff
        assert len(emulator.comments(repo, number)) == FILES
        assert run["annotations"] == []  # each is commented inline
        assert "The findings fail the check." in run["output"]["summary"]
    else:
        assert f"The conclusion is `{conclusion}` (`on_error`)." in run["output"]["summary"]
