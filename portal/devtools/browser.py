"""Browser-test helpers: Debian's Chromium for Playwright, and a live WSGI server.

Never run ``playwright install`` (it downloads a browser; there is no network
for that here): Playwright drives the system Chromium instead. With
pytest-playwright, override its fixture::

    @pytest.fixture(scope="session")
    def browser_type_launch_args(browser_type_launch_args):
        return {**browser_type_launch_args, **launch_kwargs()}

and serve the app under test with :class:`LiveServer`::

    with LiveServer(app) as server:
        page.goto(server.url + "/recherche")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

__all__ = [
    "CHROMIUM_PATH",
    "LAUNCH_ARGS",
    "LiveServer",
    "chromium_available",
    "launch_kwargs",
    "require_chromium",
]

CHROMIUM_PATH = "/usr/bin/chromium"

# Without the background-networking flags Chromium keeps trying (and failing) to
# reach Google's hosts through this machine's closed network.
LAUNCH_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

_INSTALL_HINT = (
    f"Chromium was not found at {CHROMIUM_PATH}. Install Debian's package with "
    "`make chromium` (as root: apt-get install --no-install-recommends chromium). "
    "Do not run `playwright install`."
)


def chromium_available() -> bool:
    return os.access(CHROMIUM_PATH, os.X_OK)


def require_chromium() -> str:
    """:data:`CHROMIUM_PATH`, or ``RuntimeError`` with an install hint when it is missing."""
    if not chromium_available():
        raise RuntimeError(_INSTALL_HINT)
    return CHROMIUM_PATH


def launch_kwargs() -> dict[str, Any]:
    """Keyword arguments for ``browser_type.launch()`` / ``browser_type_launch_args``."""
    return {"executable_path": CHROMIUM_PATH, "args": list(LAUNCH_ARGS), "headless": True}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class LiveServer:
    """Serve a WSGI app (e.g. a Flask app) on 127.0.0.1, on a free port, in a thread.

    ``url`` is ``http://127.0.0.1:<port>`` (no trailing slash). The server is
    threaded, so a page and its HTMX requests are answered concurrently; the
    app therefore must not rely on per-thread state such as an in-memory
    SQLite connection. Use as a context manager or call ``start()``/``stop()``.
    """

    host = "127.0.0.1"

    def __init__(self, app: Callable[..., Any], *, port: int = 0, quiet: bool = True) -> None:
        self.app = app
        self._port = port
        self.quiet = quiet
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the live server is not started")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LiveServer:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host,
            self._port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler if self.quiet else None,
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]  # a hung request never blocks interpreter exit
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LiveServer:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
