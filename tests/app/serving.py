"""Serve a WSGI app on a free loopback port in a background thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.serving import BaseWSGIServer, make_server


def serve(app: Callable) -> tuple[BaseWSGIServer, str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, name=f"serve:{server.server_port}", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
