"""The FHIR sandbox server: :class:`SimulatorServer` (lifecycle, fault injection,
request log, control endpoint) answering FHIR under ``/fhir`` — faults apply there
only — with the booking page ``/rdv/…`` and the INT_R02 accounts; the agendas, FHIR
answers and booking page come from its mixins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.wrappers import Request, Response

from portal.testing.sandbox.agenda import AgendaSlot, Flow
from portal.testing.sandbox.base import DEFAULT_SLOW_S as DEFAULT_SLOW_S
from portal.testing.sandbox.base import MODES as MODES
from portal.testing.sandbox.base import Behaviour, SimulatorServer, json_response
from portal.testing.sandbox.base import Mode as Mode
from portal.testing.sandbox.bundles import BundleAnswers
from portal.testing.sandbox.page import BookingPage
from portal.testing.sandbox.resources import FHIR_JSON, fhir_response, outcome
from portal.testing.sandbox.search import FhirError


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

    def as_json(self) -> dict[str, Any]:
        """What ``GET /_sandbox/accounts`` says of this account."""
        return {
            "id": self.id,
            "active": self.active,
            "version": self.version,
            "resource": self.resource,
        }


class SandboxServer(SimulatorServer, BookingPage, BundleAnswers):
    """An editor simulator: a WSGI app served on 127.0.0.1 in a daemon thread.

    Subclasses answer FHIR interactions in :meth:`handle_fhir`. ``url`` is the
    FHIR base (``http://127.0.0.1:PORT/fhir``), ``base_url`` the server root.
    ``requests`` logs (method, path, raw query string) of every non-control
    request; ``accounts`` the INT_R02 pushes (keyed by identifier value).
    """

    flow: Flow = "ps"
    mimetype = FHIR_JSON
    label = "Éditeur (simulation)"
    resource_types: tuple[str, ...] = ()

    def __init__(self, *, seed: int = 0, port: int = 0, behaviour: Behaviour | None = None) -> None:
        super().__init__(port=port, behaviour=behaviour)
        self.seed = seed
        self.accounts: dict[str, AccountRecord] = {}
        self._days: dict[tuple[str, date], list[AgendaSlot]] = {}
        self._slots: dict[str, AgendaSlot] = {}
        self._json: dict[str, str] = {}

    @property
    def url(self) -> str:
        """The FHIR base, ``http://127.0.0.1:PORT/fhir``."""
        return self.base_url + "/fhir"

    def on_start(self) -> None:
        self._json.clear()  # cached JSON holds absolute URLs with the previous port

    def faulty(self, path: str) -> bool:
        """Faults apply to ``/fhir/…`` only, never to the booking page ``/rdv/…``."""
        return path == "/fhir" or path.startswith("/fhir/")

    def fault(self, status: int, message: str) -> Response:
        """An injected fault as an OperationOutcome."""
        code = {401: "security", 503: "transient"}.get(status, "exception")
        headers = {"WWW-Authenticate": 'Bearer realm="sandbox"'} if status == 401 else {}
        return outcome(status, message, code, **headers)

    def handle(self, request: Request, *, malformed: bool) -> Response | None:
        """The booking page ``/rdv/<slot id>``, ``/fhir/metadata``, then :meth:`handle_fhir`."""
        path = request.path
        if path.startswith("/rdv/") and request.method == "GET":
            return self._booking_page(path.removeprefix("/rdv/"), request.args.get("origin"))
        if not self.faulty(path):
            return Response("Not found", status=404, mimetype="text/plain")
        accept = request.headers.get("Accept", "")
        if accept and not any(t in accept for t in ("json", "*/*", "application/*")):
            return outcome(406, f"format non servi : {accept} (application/fhir+json seulement)")
        sub = path.removeprefix("/fhir").strip("/")
        if sub == "metadata" and request.method == "GET":
            return fhir_response(self._capability_statement())
        try:
            response = self.handle_fhir(request, sub, malformed=malformed)
        except FhirError as exc:
            return outcome(exc.status, exc.message, exc.code)
        if response is None:
            return outcome(404, f"{request.method} {path} : interaction inconnue", "not-supported")
        return response

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        """Answer a FHIR interaction (``path`` relative to ``/fhir``); ``None`` → 404."""
        return None

    # -- control endpoint

    def control(self, request: Request, name: str) -> Response:
        """The base's control endpoint, plus ``GET /_sandbox/accounts`` (INT_R02 pushes)."""
        if name == "accounts" and request.method == "GET":
            return json_response(
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
        return super().control(request, name)
