"""The simulator base: any upstream API on loopback, with fault injection. Public.

:class:`SimulatorServer` is a WSGI app served on ``127.0.0.1`` (a free port by
default) in a daemon thread. It knows nothing of FHIR: a subclass answers its
own routes in :meth:`SimulatorServer.handle` — a bulk publication (a manifest
plus NDJSON files), a JSON API, anything a connector talks to — and inherits:

- the lifecycle: ``start()`` / ``stop()`` (``stop()`` closes the listening socket
  *and* the kept-alive connections, so clients then get "connection refused"),
  a context manager, ``port``, ``base_url``;
- fault injection (:class:`Behaviour`): ``ok``, ``slow``, ``error``, ``timeout``,
  ``malformed`` (passed to ``handle``, which breaks its own answer), ``auth``,
  ``garbage``; set in code (``server.behaviour = Behaviour("error")``) or over
  HTTP (``POST /_sandbox/behaviour {"mode": "error"}``);
- the request log ``requests`` (method, path, query string), also at
  ``GET /_sandbox/requests``; ``POST /_sandbox/reset`` clears it.

Faults apply to the paths :meth:`SimulatorServer.faulty` accepts (all but the
control endpoint by default). The FHIR simulators (:class:`SandboxServer`)
are built on it. May import: werkzeug and the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Self, get_args

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

Mode = Literal["ok", "slow", "error", "timeout", "malformed", "auth", "garbage"]
MODES: tuple[str, ...] = get_args(Mode)
#: ``slow`` with ``latency_s == 0`` waits this long.
DEFAULT_SLOW_S = 2.0


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Fault injection. ``latency_s`` is added before answering in every mode.

    ``ok`` answers normally; ``slow`` waits ``latency_s`` (``DEFAULT_SLOW_S`` when 0);
    ``error`` answers 500; ``timeout`` hangs ``hang_s`` then answers normally
    (``stop()`` cuts it short); ``malformed`` asks the handler for a broken answer;
    ``auth`` answers 401; ``garbage`` 200 with a non-JSON body. Faults apply to the
    paths the server's ``faulty()`` accepts, never to the control endpoint ``/_sandbox/…``.
    """

    mode: Mode = "ok"
    latency_s: float = 0.0
    hang_s: float = 60.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r} (expected one of {', '.join(MODES)})")
        if not self.latency_s >= 0 or not self.hang_s >= 0:
            raise ValueError("latency_s and hang_s must be >= 0")

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "latency_s": self.latency_s, "hang_s": self.hang_s}


class _Handler(WSGIRequestHandler):
    """Quiet, and tracks its connection so ``stop()`` can cut kept-alive clients."""

    def setup(self) -> None:
        super().setup()
        getattr(self.server, "sandbox_connections", set()).add(self.connection)

    def finish(self) -> None:
        getattr(self.server, "sandbox_connections", set()).discard(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def json_response(data: Any, status: int = 200, **headers: str) -> Response:
    """A JSON response (UTF-8, non-ASCII kept)."""
    response = Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )
    response.headers.update(headers)
    return response


class SimulatorServer:
    """An upstream simulator on loopback: subclass it and implement :meth:`handle`.

    Example (a bulk publication)::

        class Bulk(SimulatorServer):
            def handle(self, request, *, malformed):
                if request.path == "/$bulk-publish":
                    return json_response({"output": [...]})
                return None  # 404
    """

    host = "127.0.0.1"
    label = "Simulateur"
    #: content type of the ``garbage`` mode's non-JSON body
    mimetype = "application/json"

    def __init__(self, *, port: int = 0, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests: list[tuple[str, str, str]] = []
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    # -- what a subclass provides

    def handle(self, request: Request, *, malformed: bool) -> Response | None:
        """Answer one request (faults already applied); ``None`` → 404.

        :param malformed: the ``malformed`` mode is on: answer something broken.
        """
        return None

    def faulty(self, path: str) -> bool:
        """Whether faults apply to ``path`` (all of them by default)."""
        return True

    def fault(self, status: int, message: str) -> Response:
        """The answer of an injected fault (``error`` 500, ``auth`` 401, stopped 503)."""
        headers = {"WWW-Authenticate": 'Bearer realm="sandbox"'} if status == 401 else {}
        return json_response({"error": message}, status, **headers)

    def on_start(self) -> None:
        """Called before serving (drop caches holding the previous port's URLs)."""

    # -- lifecycle

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Serve in a daemon thread (idempotent); returns ``self``."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self.on_start()
        server = make_server(self.host, self._port, self, threaded=True, request_handler=_Handler)
        server.daemon_threads = True  # type: ignore[attr-defined]  # a hung request never blocks exit
        server.sandbox_connections = set()  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: close the listening socket and cut open connections. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()  # wakes hanging "timeout"/"slow" requests
        server.shutdown()
        server.server_close()
        for conn in list(getattr(server, "sandbox_connections", ())):
            # The handler thread closes the socket itself when it sees EOF.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception as exc:  # a sandbox bug must show up as a 500 with its cause
            response = self.fault(500, f"erreur interne du bac à sable : {exc!r}")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        """Control endpoint, request log, faults, then :meth:`handle`."""
        path = request.path
        if path.startswith("/_sandbox/"):
            return self.control(request, path.removeprefix("/_sandbox/"))
        self.requests.append((request.method, path, request.query_string.decode("latin-1")))
        malformed = False
        if self.faulty(path):
            injected = self._inject()
            if injected is not None:
                return injected
            malformed = self.behaviour.mode == "malformed"
        response = self.handle(request, malformed=malformed)
        if response is None:
            return Response(f"{request.method} {path} : inconnu", status=404, mimetype="text/plain")
        return response

    def _inject(self) -> Response | None:
        behaviour = self.behaviour
        delay = behaviour.latency_s
        if behaviour.mode == "slow" and not delay:
            delay = DEFAULT_SLOW_S
        if delay and self._stopping.wait(delay):
            return self.fault(503, "bac à sable arrêté")
        if behaviour.mode == "timeout" and self._stopping.wait(behaviour.hang_s):
            return self.fault(503, "bac à sable arrêté")
        if behaviour.mode == "error":
            return self.fault(500, "panne simulée")
        if behaviour.mode == "auth":
            return self.fault(401, "authentification refusée (simulation)")
        if behaviour.mode == "garbage":
            body = "<html><body><h1>502 Bad Gateway</h1>proxy (simulation)</body></html>"
            return Response(body, status=200, content_type=self.mimetype)
        return None

    def control(self, request: Request, name: str) -> Response:
        """``/_sandbox/<name>``: behaviour (GET/POST), requests (GET), reset (POST)."""
        if name == "behaviour" and request.method == "POST":
            try:
                data = json.loads(request.get_data(as_text=True) or "{}")
                self.behaviour = Behaviour(
                    mode=data.get("mode", "ok"),
                    latency_s=float(data.get("latency_s", 0.0)),
                    hang_s=float(data.get("hang_s", 60.0)),
                )
            except (ValueError, TypeError, AttributeError) as exc:
                return json_response({"error": str(exc)}, 400)
            return json_response(self.behaviour.as_json())
        if name == "behaviour" and request.method == "GET":
            return json_response(self.behaviour.as_json())
        if name == "requests" and request.method == "GET":
            return json_response([list(r) for r in self.requests])
        if name == "reset" and request.method == "POST":
            self.requests.clear()
            self.behaviour = Behaviour()
            return json_response({"reset": True})
        return json_response({"error": f"{request.method} /_sandbox/{name} inconnu"}, 404)
