"""Tasks spread over forked worker processes, one task at a time each.

`multiprocessing.Pool` costs about 50 ms before its first task runs (its imports, its
threads), 7% of a whole check of 420 files; these workers cost a fork each. A worker
inherits everything the parent had (the tasks need not be pickled, only their results),
asks for nothing, and is given its next task as soon as it answers, so the big tasks given
first do not leave one worker busy at the end. A worker that dies (killed, out of memory,
its task raising) loses nothing: the parent does that task itself, and an exception it
raises there is raised to the caller.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_INDEX_BYTES = 4  # a task's index, parent to worker; -1 tells the worker to exit
_LENGTH_BYTES = 8  # the length of a pickled (index, result), worker to parent


@dataclass
class _Worker:
    pid: int
    tasks: int  # the parent's end of the pipe it writes task indices to
    results: int  # the parent's end of the pipe it reads results from


def forked_map(work: Callable[[int], T], order: Sequence[int], processes: int) -> Iterator[tuple[int, T]]:
    """(index, work(index)) for every index of `order`, as the workers finish them, started
    in `order`'s order in up to `processes` forked processes."""
    pending = deque(order)
    workers = [_fork(work) for _ in range(min(processes, len(pending)))]
    running: dict[int, tuple[_Worker, int]] = {}  # a busy worker's results pipe: it, its task
    try:
        for worker in workers:
            _give(worker, pending, running)
        while running:
            ready, _, _ = select.select(list(running), [], [])
            for results in ready:
                worker, task = running.pop(results)
                answer = _read_answer(worker)
                if answer is None:  # it died: its task is done here, without it from now on
                    _end(worker, workers, running)
                    yield task, work(task)
                    continue
                _give(worker, pending, running)
                yield answer
        while pending:  # every worker died
            task = pending.popleft()
            yield task, work(task)
    finally:
        for worker in list(workers):
            _end(worker, workers, running)


def _fork(work: Callable[[int], T]) -> _Worker:
    tasks_read, tasks_write = os.pipe()
    results_read, results_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        os.close(tasks_write)
        os.close(results_read)
        _serve(work, tasks_read, results_write)
    os.close(tasks_read)
    os.close(results_write)
    return _Worker(pid, tasks_write, results_read)


def _serve(work: Callable[[int], object], tasks: int, results: int) -> None:
    status = 1
    try:
        while (header := _read_exactly(tasks, _INDEX_BYTES)) is not None:
            index = int.from_bytes(header, "little", signed=True)
            if index < 0:
                break
            answer = pickle.dumps((index, work(index)), protocol=pickle.HIGHEST_PROTOCOL)
            _write_all(results, len(answer).to_bytes(_LENGTH_BYTES, "little") + answer)
        status = 0
    finally:
        # None of the parent's cleanup (atexit handlers, buffered output, its generators).
        os._exit(status)


def _give(worker: _Worker, pending: deque[int], running: dict[int, tuple[_Worker, int]]) -> None:
    """The worker's next task, or, with none left, its leave to exit."""
    task = pending.popleft() if pending else -1
    try:
        os.write(worker.tasks, task.to_bytes(_INDEX_BYTES, "little", signed=True))
    except BrokenPipeError:  # it died between tasks: the task goes back
        if task >= 0:
            pending.appendleft(task)
        return
    if task >= 0:
        running[worker.results] = (worker, task)


def _read_answer(worker: _Worker) -> tuple[int, Any] | None:
    header = _read_exactly(worker.results, _LENGTH_BYTES)
    if header is None:
        return None
    answer = _read_exactly(worker.results, int.from_bytes(header, "little"))
    return None if answer is None else pickle.loads(answer)


def _end(worker: _Worker, workers: list[_Worker], running: dict[int, tuple[_Worker, int]]) -> None:
    """Close the worker's pipes and reap it; one still at a task (the caller stopped
    early) is killed first."""
    if running.pop(worker.results, None) is not None:
        os.kill(worker.pid, signal.SIGKILL)
    os.close(worker.tasks)
    os.close(worker.results)
    os.waitpid(worker.pid, 0)
    workers.remove(worker)


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from the pipe, or None at its end."""
    chunks, missing = [], size
    while missing:
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
