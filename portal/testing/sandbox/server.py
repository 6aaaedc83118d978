"""The sandbox server: start/stop (``stop()`` closes the listening socket *and* the
kept-alive connections, so clients then get "connection refused"), fault injection
(:class:`Behaviour`, also over ``/_sandbox/behaviour``), the request log, the
control endpoint; the agendas, FHIR answers and booking page come from its mixins."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from portal.testing.sandbox.agenda import AgendaSlot, Flow
from portal.testing.sandbox.bundles import BundleAnswers
from portal.testing.sandbox.page import BookingPage
from portal.testing.sandbox.resources import fhir_response, outcome
from portal.testing.sandbox.search import FhirError

Mode = Literal["ok", "slow", "error", "timeout", "malformed", "auth", "garbage"]
MODES: tuple[str, ...] = get_args(Mode)
#: ``slow`` with ``latency_s == 0`` waits this long.
DEFAULT_SLOW_S = 2.0


@dataclass(frozen=True, slots=True)
class Behaviour:
    """Fault injection. ``latency_s`` is added before answering in every mode.

    ``ok`` answers normally; ``slow`` waits ``latency_s`` (``DEFAULT_SLOW_S`` when 0);
    ``error`` 500 + OperationOutcome "panne simulée"; ``timeout`` hangs ``hang_s``
    then answers normally (``stop()`` cuts it short); ``malformed`` adds broken Slots
    to search bundles; ``auth`` 401 + OperationOutcome; ``garbage`` 200 with a
    non-JSON body. Faults apply to ``/fhir/…`` only, never to ``/rdv/…`` nor to the
    control endpoint ``/_sandbox/…``.
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


@dataclass(slots=True)
class AccountRecord:
    """A regulator account received over INT_R02; ``history`` holds every version."""

    id: str
    system: str
    value: str
    resource: dict[str, Any]
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.resource.get("active", True))

    @property
    def version(self) -> int:
        return len(self.history)


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


class SandboxServer(BookingPage, BundleAnswers):
    """An editor simulator: a WSGI app served on 127.0.0.1 in a daemon thread.

    Subclasses answer FHIR interactions in :meth:`handle_fhir`. ``url`` is the
    FHIR base (``http://127.0.0.1:PORT/fhir``), ``base_url`` the server root.
    ``requests`` logs (method, path, raw query string) of every non-control
    request; ``accounts`` the INT_R02 pushes (keyed by identifier value).
    """

    host = "127.0.0.1"
    flow: Flow = "ps"
    label = "Éditeur (simulation)"
    resource_types: tuple[str, ...] = ()

    def __init__(self, *, seed: int = 0, port: int = 0, behaviour: Behaviour | None = None) -> None:
        self.seed = seed
        self.behaviour = behaviour or Behaviour()
        self.requests: list[tuple[str, str, str]] = []
        self.accounts: dict[str, AccountRecord] = {}
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._days: dict[tuple[str, date], list[AgendaSlot]] = {}
        self._slots: dict[str, AgendaSlot] = {}
        self._json: dict[str, str] = {}

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
    def url(self) -> str:
        return self.base_url + "/fhir"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._json.clear()  # cached JSON holds absolute URLs with the previous port
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

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception as exc:  # a sandbox bug must show up as a 500 with its cause
            response = outcome(500, f"erreur interne du bac à sable : {exc!r}", "exception")
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sandbox/"):
            return self._control(request, path.removeprefix("/_sandbox/"))
        self.requests.append((request.method, path, request.query_string.decode("latin-1")))
        if path.startswith("/rdv/") and request.method == "GET":
            return self._booking_page(path.removeprefix("/rdv/"), request.args.get("origin"))
        if path != "/fhir" and not path.startswith("/fhir/"):
            return Response("Not found", status=404, mimetype="text/plain")
        behaviour = self.behaviour
        delay = behaviour.latency_s
        if behaviour.mode == "slow" and not delay:
            delay = DEFAULT_SLOW_S
        if delay and self._stopping.wait(delay):
            return outcome(503, "bac à sable arrêté", "transient")
        if behaviour.mode == "timeout" and self._stopping.wait(behaviour.hang_s):
            return outcome(503, "bac à sable arrêté", "transient")
        if behaviour.mode == "error":
            return outcome(500, "panne simulée", "exception")
        if behaviour.mode == "auth":
            return outcome(
                401,
                "authentification refusée (simulation)",
                "security",
                **{"WWW-Authenticate": 'Bearer realm="sandbox"'},
            )
        if behaviour.mode == "garbage":
            body = "<html><body><h1>502 Bad Gateway</h1>proxy (simulation)</body></html>"
            return fhir_response(body)
        accept = request.headers.get("Accept", "")
        if accept and not any(t in accept for t in ("json", "*/*", "application/*")):
            return outcome(406, f"format non servi : {accept} (application/fhir+json seulement)")
        sub = path.removeprefix("/fhir").strip("/")
        if sub == "metadata" and request.method == "GET":
            return fhir_response(self._capability_statement())
        try:
            response = self.handle_fhir(request, sub, malformed=behaviour.mode == "malformed")
        except FhirError as exc:
            return outcome(exc.status, exc.message, exc.code)
        if response is None:
            return outcome(404, f"{request.method} {path} : interaction inconnue", "not-supported")
        return response

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        """Answer a FHIR interaction (``path`` relative to ``/fhir``); ``None`` → 404."""
        return None

    # -- control endpoint

    def _control(self, request: Request, name: str) -> Response:
        if name == "behaviour" and request.method == "POST":
            try:
                data = json.loads(request.get_data(as_text=True) or "{}")
                self.behaviour = Behaviour(
                    mode=data.get("mode", "ok"),
                    latency_s=float(data.get("latency_s", 0.0)),
                    hang_s=float(data.get("hang_s", 60.0)),
                )
            except (ValueError, TypeError, AttributeError) as exc:
                return _json_response({"error": str(exc)}, 400)
            return _json_response(self.behaviour.as_json())
        if name == "behaviour" and request.method == "GET":
            return _json_response(self.behaviour.as_json())
        if name == "requests" and request.method == "GET":
            return _json_response([list(r) for r in self.requests])
        if name == "accounts" and request.method == "GET":
            return _json_response(
                {
                    k: {
                        "id": a.id,
                        "active": a.active,
                        "version": a.version,
                        "resource": a.resource,
                    }
                    for k, a in self.accounts.items()
                }
            )
        if name == "reset" and request.method == "POST":
            self.requests.clear()
            self.behaviour = Behaviour()
            return _json_response({"reset": True})
        return _json_response({"error": f"{request.method} /_sandbox/{name} inconnu"}, 404)


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )
