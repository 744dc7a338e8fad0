"""Tasks in forked workers: every task answered once, none lost when a worker dies."""

from __future__ import annotations

import os
import signal

import pytest

from reviewers.forked import forked_map

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")


def test_every_task_is_answered_once_by_the_workers():
    answers = dict(forked_map(lambda index: (index * index, os.getpid()), range(20), 3))
    assert sorted(answers) == list(range(20))
    assert all(square == index * index for index, (square, _) in answers.items())
    workers = {pid for _, pid in answers.values()}
    assert os.getpid() not in workers and 1 < len(workers) <= 3


def test_a_worker_that_dies_loses_no_task():
    parent = os.getpid()

    def work(index: int) -> tuple[int, bool]:
        if index == 3 and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        return index, os.getpid() == parent

    answers = dict(forked_map(work, range(8), 2))
    assert sorted(answers) == list(range(8))
    assert answers[3] == (3, True)  # done again, here
    assert sum(done_here for _, done_here in answers.values()) < 8  # the other worker went on


def test_a_task_that_raises_raises_to_the_caller():
    def work(index: int) -> int:
        if index == 5:
            raise ValueError(f"task {index} failed")
        return index

    with pytest.raises(ValueError, match="task 5 failed"):
        dict(forked_map(work, range(10), 2))


def test_workers_are_reaped_when_the_caller_stops_early():
    answers = forked_map(lambda index: os.getpid(), range(50), 2)
    workers = {pid for _, pid in (next(answers), next(answers), next(answers))}
    answers.close()  # tasks still running are killed
    for pid in workers:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no zombie left behind
