"""gunicorn's settings for the web process (`gunicorn -c python:webapp.gunicorn_config`).

Slow or stalled clients must not stop the endpoint from answering. Threads serve the
requests (gthread), so a client that sends slowly holds one thread of many rather than a
whole worker, and every connection's socket gives up on a client that pauses longer than
`GOREEF_CLIENT_TIMEOUT` while sending its request line, headers or body. In production a
reverse proxy that buffers whole requests before passing them on stands in front (see the
README); these limits are what holds without one.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from appcore.settings import DEFAULT_CLIENT_TIMEOUT, process_environment, tuning_from_env

worker_class = "gthread"
threads = 16  # per worker process; WEB_CONCURRENCY processes
timeout = 30  # a worker process whose main loop stops answering is replaced
graceful_timeout = 30
keepalive = 5
# What the request line holds past the path (the query) and the headers (user agent,
# referrer) are the sender's own words: the access log keeps none of them.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
control_socket_disable = True  # gunicorn's admin socket (one path per host) serves no purpose here


def when_ready(server: Any) -> None:
    """Give up on a client after `client_timeout` seconds without a byte of its request.

    SO_RCVTIMEO set on the listening sockets is inherited by every connection accepted from
    them, and bounds each wait for data the threads make, whatever gunicorn does with the
    socket's own (Python-level) timeout."""
    # Read alone: in setup mode (no App credentials yet) the full settings are not there.
    seconds = tuning_from_env(process_environment()).get("client_timeout", DEFAULT_CLIENT_TIMEOUT)
    timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
