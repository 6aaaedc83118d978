"""Editor simulators ("sandbox editors") speaking the national SAS FHIR flows.

A sandbox is a real HTTP server on loopback (werkzeug, one thread per request)
that answers the slot searches of the national guide with deterministic,
plausible agendas, so the demo, the tests and the conformance kit exercise the
same code paths as production. The connector-specific servers live in
``connectors/<name>/sandbox.py``; this module holds what they share:

- :class:`SandboxServer`: start/stop (``stop()`` closes the listening socket
  *and* the kept-alive connections, so clients then get "connection refused"),
  fault injection (:class:`Behaviour`, also over ``/_sandbox/behaviour``), the
  request log, the booking page ``/rdv/<slot id>``, ``/fhir/metadata``;
- :func:`generate_day`: the seeded agenda of one key (national id, site) for one day;
- :func:`parse_search`: strict parsing of the national search parameters;
- :class:`PractitionerSandbox`: the individual-PS slot search (INT_R01), which
  the CPTS flow (INT_R04) extends.

Every resource is built with the ``fhir.resources.R4B`` models; its JSON text is
cached per resource, and agendas per (key, day), so a warm search only filters
and joins strings.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import random
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot
from pydantic import BaseModel
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = [
    "AccountRecord",
    "AgendaSlot",
    "Behaviour",
    "FhirError",
    "PractitionerInfo",
    "PractitionerSandbox",
    "SandboxServer",
    "SearchParams",
    "SearchSpec",
    "generate_day",
    "parse_search",
    "run_cli",
]

FHIR_JSON = "application/fhir+json"
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
IDNST_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
SAS_SOURCE = "urn:oid:1.2.250.1.213.3.6"
ID_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
LOCATION_ID_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-location-identifier-type"
R314_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
R38_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
ACTCODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
#: System of the editors' internal place identifiers (made up, like the guide's examples).
PLACE_SYSTEM = "https://sandbox.sas-portal.invalid/lieux"
_SAS = "http://sas.fr/fhir/StructureDefinition/"
PROFILE_BUNDLE = _SAS + "BundleAgregateur"
PROFILE_SLOT = _SAS + "FrSlotAgregateur"
PROFILE_SCHEDULE = _SAS + "FrScheduleAgregateur"
PROFILE_PRACTITIONER = _SAS + "FrPractitionerAgregateur"
PROFILE_ROLE = _SAS + "FrPractitionerRoleExerciceAgregateur"
PROFILE_LOCATION = _SAS + "FrLocationAgregateur"

Mode = Literal["ok", "slow", "error", "timeout", "malformed", "auth", "garbage"]
MODES: tuple[str, ...] = get_args(Mode)
Flow = Literal["ps", "cpts", "sos"]
#: ``slow`` with ``latency_s == 0`` waits this long.
DEFAULT_SLOW_S = 2.0
MAX_IDS = 25
MAX_WINDOW = timedelta(days=31)
_FHIR_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]")


# --------------------------------------------------------------------------- data types


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


@dataclass(frozen=True, slots=True)
class PractitionerInfo:
    """What a sandbox says about a practitioner (keyed by prefixed national id).

    ``structure`` is the prefixed IDNST of the place of practice; ``cpts`` the
    prefixed IDNST (``1``+FINESS; a bare 9-digit FINESS is accepted) of the
    CPTS the practitioner publishes slots for (CPTS flow only).
    """

    family_name: str
    given_name: str
    specialty: str = "SM54"
    line: str = ""
    postal_code: str = ""
    city: str = ""
    structure: str = ""
    phone: str = ""
    tz: str = "Europe/Paris"
    cpts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ids = tuple("1" + c if len(c) == 9 else c for c in self.cpts)
        object.__setattr__(self, "cpts", ids)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in ("Dr", self.given_name, self.family_name) if p)


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


@dataclass(frozen=True, slots=True)
class AgendaSlot:
    """One generated slot. ``modalities`` are ActCode, ``kinds`` TRE_R314 codes."""

    id: str
    key: str
    start: datetime
    end: datetime
    free: bool
    modalities: tuple[str, ...]
    kinds: tuple[str, ...]
    walk_in: bool
    reasons: tuple[str, ...]


# --------------------------------------------------------------------------- agenda

_KINDS: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "ps": (
        (("PUBLIC",), 35),
        (("PUBLIC", "PRO"), 20),
        (("PRO",), 10),
        (("SNP",), 20),
        (("PUBLIC", "PRO", "SNP"), 10),
        (("PRO", "SNP"), 5),
    ),
    "cpts": (
        (("CPTS",), 30),
        (("PUBLIC", "CPTS"), 30),
        (("SNP", "CPTS"), 20),
        (("PUBLIC", "PRO", "CPTS"), 20),
    ),
    "sos": ((("PUBLIC",), 40), (("PUBLIC", "SNP"), 35), (("SNP",), 25)),
}
_MODALITIES: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "ps": ((("AMB",), 75), (("VR",), 10), (("AMB", "VR"), 8), (("HH",), 7)),
    "cpts": ((("AMB",), 75), (("VR",), 10), (("AMB", "VR"), 8), (("HH",), 7)),
    "sos": ((("AMB",), 80), (("AMB", "VR"), 10), (("VR",), 10)),
}
REASONS = (
    "Visite de contrôle",
    "Consultation non programmée",
    "Renouvellement d'ordonnance",
    "Certificat médical",
    "Première consultation",
)


def _pick(rng: random.Random, weighted: Sequence[tuple[tuple[str, ...], int]]) -> tuple[str, ...]:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def default_periods(rng: random.Random, day: date) -> list[tuple[time, time]]:
    """Working periods of a practitioner: weekdays 08:00–19:00 with a lunch break,
    Saturday morning sometimes, Sunday rarely."""
    weekday = day.weekday()
    if weekday == 6:
        return [(time(9), time(12))] if rng.random() < 0.15 else []
    if weekday == 5:
        return [(time(9), time(12, 30))] if rng.random() < 0.6 else []
    periods = [(rng.choice((time(8), time(8, 30), time(9))), rng.choice((time(12), time(12, 30))))]
    if rng.random() < 0.9:
        periods.append(
            (rng.choice((time(13, 30), time(14))), rng.choice((time(18), time(18, 30), time(19))))
        )
    return periods


def fhir_id(key: str) -> str:
    """A valid FHIR id derived from a key (national ids are already valid)."""
    return _FHIR_ID_UNSAFE.sub(".", key)[:40]


def generate_day(
    seed: int,
    key: str,
    day: date,
    *,
    flow: Flow = "ps",
    tz: str = "Europe/Paris",
    periods: Sequence[tuple[time, time]] | None = None,
    free_ratio: float = 0.3,
    empty_ratio: float = 0.1,
) -> list[AgendaSlot]:
    """The slots (free and busy) of ``key`` on ``day``, deterministic for (seed, key, day).

    ``periods`` are local opening periods (default: :func:`default_periods`);
    slots last 10–20 minutes; about ``empty_ratio`` of the days have no slot at all.
    """
    rng = random.Random(f"{seed}:{key}:{day.isoformat()}")
    if rng.random() < empty_ratio:
        return []
    if periods is None:
        periods = default_periods(rng, day)
    zone = ZoneInfo(tz)
    step = timedelta(minutes=rng.choice((10, 15, 15, 20)))
    prefix = f"{fhir_id(key)}-{day:%Y%m%d}-"
    kinds, modalities = _KINDS[flow], _MODALITIES[flow]
    slots: list[AgendaSlot] = []
    for opening, closing in periods:
        current = datetime.combine(day, opening, tzinfo=zone)
        stop = datetime.combine(day, closing, tzinfo=zone)
        while current + step <= stop:
            draw = rng.random()
            reasons: tuple[str, ...] = ()
            if draw < 0.25:
                reasons = (rng.choice(REASONS),)
            elif draw < 0.3:
                reasons = tuple(rng.sample(REASONS, 2))
            slots.append(
                AgendaSlot(
                    id=prefix + f"{current:%H%M}",
                    key=key,
                    start=current,
                    end=current + step,
                    free=rng.random() < free_ratio,
                    modalities=_pick(rng, modalities),
                    kinds=_pick(rng, kinds),
                    walk_in=rng.random() < 0.1,
                    reasons=reasons,
                )
            )
            current += step
    return slots


# --------------------------------------------------------------------------- search parameters


class FhirError(Exception):
    """A request the sandbox refuses: becomes a 4xx OperationOutcome."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """The parameter names of one flow's search."""

    date_param: str
    status_param: str
    id_param: str
    id_system: str
    #: parameters accepted (and ignored when unsupported) besides the three above
    accepted: frozenset[str] = frozenset(
        {"_include", "_include:iterate", "_revinclude", "_count", "_format"}
    )


@dataclass(frozen=True, slots=True)
class SearchParams:
    lower: datetime
    upper: datetime
    lower_inclusive: bool
    upper_inclusive: bool
    ids: tuple[str, ...]
    statuses: frozenset[str] | None
    include: frozenset[str]
    iterate: frozenset[str]
    revinclude: frozenset[str]

    def contains(self, start: datetime) -> bool:
        after = start >= self.lower if self.lower_inclusive else start > self.lower
        before = start <= self.upper if self.upper_inclusive else start < self.upper
        return after and before

    def wants(self, free: bool) -> bool:
        return self.statuses is None or ("free" if free else "busy") in self.statuses

    def includes(self, *names: str) -> bool:
        """Whether any of ``names`` was asked in ``_include`` or ``_include:iterate``."""
        return any(n in self.include or n in self.iterate for n in names)

    def days(self, tz: str) -> list[date]:
        zone = ZoneInfo(tz)
        first, last = self.lower.astimezone(zone).date(), self.upper.astimezone(zone).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


_SLOT_STATUSES = frozenset(
    {"free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"}
)


def _bound(param: str, raw: str) -> tuple[str, datetime]:
    """(prefix, instant) of ``ge2024-06-12T16:20:00.000+02:00``; date-only values are days."""
    prefix, value = raw[:2], raw[2:]
    if prefix not in ("ge", "gt", "le", "lt"):
        raise FhirError(f"{param}: préfixe attendu ge, gt, le ou lt (reçu {raw!r})")
    # An unencoded "+" of the offset arrives as a space.
    value = value.strip().replace(" ", "+")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if prefix in ("gt", "le"):
                day += timedelta(days=1)
            prefix = {"gt": "ge", "le": "lt"}.get(prefix, prefix)
            return prefix, datetime.combine(day, time(), tzinfo=ZoneInfo("Europe/Paris"))
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(f"{param}: date invalide {value!r}") from None
    if instant.tzinfo is None:
        raise FhirError(f"{param}: la date {value!r} doit porter un décalage horaire")
    return prefix, instant


def parse_search(query_string: str, spec: SearchSpec) -> SearchParams:
    """Parse a search query string exactly as the national guide writes it.

    Repeated date parameters carry ``ge``/``gt``/``le``/``lt`` prefixes (both bounds
    required); ids are one comma-separated ``system|value`` list (at most 25);
    unknown parameters are refused rather than silently ignored.
    """
    pairs = parse_qsl(query_string, keep_blank_values=True)
    known = {spec.date_param, spec.status_param, spec.id_param} | spec.accepted
    unknown = sorted({k for k, _ in pairs if k not in known})
    if unknown:
        raise FhirError(f"paramètre(s) non pris en charge : {', '.join(unknown)}")
    lowers: list[tuple[bool, datetime]] = []
    uppers: list[tuple[bool, datetime]] = []
    for key, value in pairs:
        if key == spec.date_param:
            prefix, instant = _bound(key, value)
            (lowers if prefix in ("ge", "gt") else uppers).append((prefix in ("ge", "le"), instant))
    if not lowers or not uppers:
        raise FhirError(f"{spec.date_param} : bornes ge… et le… obligatoires")
    lower_inclusive, lower = max(lowers, key=lambda b: (b[1], not b[0]))
    upper_inclusive, upper = min(uppers, key=lambda b: (b[1], b[0]))
    if upper < lower:
        raise FhirError(f"{spec.date_param} : fenêtre vide (fin avant début)")
    if upper - lower > MAX_WINDOW:
        raise FhirError(f"{spec.date_param} : fenêtre limitée à {MAX_WINDOW.days} jours")
    id_values = [v for k, v in pairs if k == spec.id_param]
    if not id_values:
        raise FhirError(f"{spec.id_param} obligatoire")
    if len(id_values) > 1:
        raise FhirError(
            f"{spec.id_param} : une seule occurrence, valeurs séparées par des virgules"
        )
    ids: list[str] = []
    for token in id_values[0].split(","):
        system, sep, value = token.strip().rpartition("|")
        if not value:
            raise FhirError(f"{spec.id_param} : identifiant vide dans {id_values[0]!r}")
        if sep and system and system != spec.id_system:
            raise FhirError(f"{spec.id_param} : système {system!r} inattendu ({spec.id_system})")
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_IDS:
        raise FhirError(f"{spec.id_param} : au plus {MAX_IDS} identifiants par requête")
    statuses: frozenset[str] | None = None
    status_values = [v for k, v in pairs if k == spec.status_param]
    if status_values:
        statuses = frozenset(s.strip() for v in status_values for s in v.split(","))
        if not statuses <= _SLOT_STATUSES:
            raise FhirError(f"{spec.status_param} : statut inconnu {sorted(statuses)}")

    def values(name: str) -> frozenset[str]:
        return frozenset(v for k, v in pairs if k == name)

    return SearchParams(
        lower=lower,
        upper=upper,
        lower_inclusive=lower_inclusive,
        upper_inclusive=upper_inclusive,
        ids=tuple(ids),
        statuses=statuses,
        include=values("_include"),
        iterate=values("_include:iterate"),
        revinclude=values("_revinclude"),
    )


# --------------------------------------------------------------------------- FHIR JSON helpers


def resource_json(model: type[BaseModel], data: Mapping[str, Any]) -> str:
    """Build ``data`` with an R4B model (which validates it) and serialise it.

    The sandboxes write their input in the models' canonical JSON form, so the text
    is ``data`` itself: identical to ``model_dump(mode="json", exclude_none=True)``
    (the tests check it for every resource) at a third of the cost, which matters
    for the first (cold) search of a batch.
    """
    model.model_validate(data)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def entry_json(full_url: str, resource: str, mode: str) -> str:
    return (
        f'{{"fullUrl":{json.dumps(full_url)},"resource":{resource},"search":{{"mode":"{mode}"}}}}'
    )


def fhir_response(body: str | bytes, status: int = 200, **headers: str) -> Response:
    return Response(body, status=status, content_type=FHIR_JSON, headers=headers)


def outcome(status: int, diagnostics: str, code: str = "invalid", **headers: str) -> Response:
    """An error answer: ``status`` with an R4B OperationOutcome."""
    body = resource_json(
        OperationOutcome,
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        },
    )
    return fhir_response(body, status, **headers)


def identifier(system: str, value: str, type_code: str, type_system: str = ID_TYPE_SYSTEM) -> dict:
    return {
        "type": {"coding": [{"system": type_system, "code": type_code}]},
        "system": system,
        "value": value,
    }


def address(line: str, postal_code: str, city: str) -> dict[str, Any]:
    data: dict[str, Any] = {"line": [line]} if line else {}
    if city:
        data["city"] = city
    if postal_code:
        data["postalCode"] = postal_code
    return data


def human_name(family: str, given: str) -> dict[str, Any]:
    name: dict[str, Any] = {"family": family} if family else {}
    if given:
        name["given"] = [given]
    return name


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


# --------------------------------------------------------------------------- server


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


_DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MODALITY_FR = {"AMB": "cabinet", "VR": "téléconsultation", "HH": "visite à domicile"}


class SandboxServer:
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

    # -- agenda and caches

    def timezone_for(self, key: str) -> str:
        return "Europe/Paris"

    def agenda_day(self, key: str, day: date) -> list[AgendaSlot]:
        """The slots of ``key`` on ``day`` (override to pass opening hours)."""
        return generate_day(self.seed, key, day, flow=self.flow, tz=self.timezone_for(key))

    def day_slots(self, key: str, day: date) -> list[AgendaSlot]:
        cached = self._days.get((key, day))
        if cached is None:
            if len(self._days) > 50_000:  # long-running demo: bound the memory
                self._days.clear()
                self._slots.clear()
            cached = self.agenda_day(key, day)
            self._days[(key, day)] = cached
            for slot in cached:
                self._slots[slot.id] = slot
        return cached

    def matching(self, key: str, params: SearchParams) -> list[AgendaSlot]:
        return [
            slot
            for day in params.days(self.timezone_for(key))
            for slot in self.day_slots(key, day)
            if params.wants(slot.free) and params.contains(slot.start)
        ]

    def cached(self, cache_key: str, build: Callable[[], str]) -> str:
        text = self._json.get(cache_key)
        if text is None:
            if len(self._json) > 200_000:
                self._json.clear()
            text = self._json[cache_key] = build()
        return text

    def entry(
        self, resource_type: str, resource_id: str, mode: str, build: Callable[..., str], *args: Any
    ) -> str:
        """A cached Bundle entry (absolute fullUrl, search mode) around ``build(*args)``."""
        full_url = f"{self.url}/{resource_type}/{resource_id}"
        cache_key = f"{full_url}|{mode}"
        text = self._json.get(cache_key)
        if text is None:
            text = self.cached(cache_key, lambda: entry_json(full_url, build(*args), mode))
        return text

    def booking_url(self, slot: AgendaSlot) -> str | None:
        """``Slot.comment``: the editor's booking page (none for walk-in slots)."""
        return None if slot.walk_in else f"{self.base_url}/rdv/{slot.id}"

    def searchset(
        self, path: str, query_string: str, profile: str | None, total: int, entries: list[str]
    ) -> Response:
        """A searchset Bundle around pre-serialised entries (deterministic for a query)."""
        relative = path + (f"?{query_string}" if query_string else "")
        data: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": hashlib.sha256(relative.encode()).hexdigest()[:32],
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": f"{self.url}/{relative}"}],
        }
        if profile:
            data["meta"] = {"profile": [profile]}
        header = resource_json(Bundle, data)
        if entries:
            header = header[:-1] + ',"entry":[' + ",".join(entries) + "]}"
        return fhir_response(header.encode())

    def broken_entries(self, params: SearchParams, entries: list[str], mode: str) -> list[str]:
        """``malformed`` mode: copies of the first good Slot, each with one defect —
        no ``start``, a dangling ``schedule``, an unknown element."""
        template = next(
            (json.loads(e)["resource"] for e in entries if '"resourceType":"Slot"' in e[:300]), None
        )
        if template is None:
            start = params.lower if params.lower_inclusive else params.lower + timedelta(minutes=1)
            template = {
                "resourceType": "Slot",
                "schedule": {"reference": "Schedule/inexistant"},
                "status": "free",
                "start": start.isoformat(timespec="milliseconds"),
                "end": (start + timedelta(minutes=15)).isoformat(timespec="milliseconds"),
            }
        broken = [
            {k: v for k, v in template.items() if k != "start"} | {"id": "casse-sans-debut"},
            template | {"id": "casse-reference", "schedule": {"reference": "Schedule/inexistant"}},
            template | {"id": "casse-element", "couleur": "rouge"},
        ]
        return [
            entry_json(f"{self.url}/Slot/{b['id']}", json.dumps(b, ensure_ascii=False), mode)
            for b in broken
        ]

    def _capability_statement(self) -> str:
        rest = [{"type": t, "interaction": [{"code": "search-type"}]} for t in self.resource_types]
        return self.cached(
            "metadata",
            lambda: resource_json(
                CapabilityStatement,
                {
                    "resourceType": "CapabilityStatement",
                    "status": "active",
                    "date": "2026-01-01",
                    "kind": "instance",
                    "software": {"name": f"sas-portal {self.label}"},
                    "implementation": {"description": self.label, "url": self.url},
                    "fhirVersion": "4.0.1",
                    "format": [FHIR_JSON],
                    "rest": [{"mode": "server", "resource": rest}],
                },
            ),
        )

    # -- booking page (where the portal redirects regulators)

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        """Rows (label, value) shown on the booking page; override per flow."""
        return [("Agenda", slot.key)]

    def find_slot(self, slot_id: str) -> AgendaSlot | None:
        slot = self._slots.get(slot_id)
        if slot is None:  # e.g. the sandbox restarted since the search: regenerate
            key = slot_id.rpartition("-")[0]
            key, _, day_text = key.rpartition("-")
            try:
                day = datetime.strptime(day_text, "%Y%m%d").date()
            except ValueError:
                return None
            slot = next((s for s in self.day_slots(key, day) if s.id == slot_id), None)
        return slot

    def _booking_page(self, slot_id: str, origin: str | None) -> Response:
        slot = self.find_slot(slot_id)
        if slot is None:
            body = "<p>Ce créneau n'existe pas (ou plus) dans l'agenda simulé.</p>"
            return _html_page(body, 404)
        local = slot.start
        rows = [
            (
                "Créneau",
                f"{_DAYS_FR[local.weekday()]} {local:%d/%m/%Y}, "
                f"{local:%H:%M}–{slot.end:%H:%M} ({local.tzname()})",
            ),
            ("Modalités", ", ".join(_MODALITY_FR.get(m, m) for m in slot.modalities)),
            ("Type de créneau", ", ".join(slot.kinds)),
            ("Statut", "libre" if slot.free else "occupé"),
            *self.describe_slot(slot),
        ]
        table = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        if origin:
            who = (
                f'<p class="origin">Origine : <strong>{html.escape(origin)}</strong> — '
                "le régulateur serait connecté automatiquement (SSO depuis la plateforme SAS).</p>"
            )
        else:
            who = (
                '<p class="origin">Aucune origine : le régulateur ne serait pas connecté '
                "(connexion à l'éditeur requise, aucune connexion automatique).</p>"
            )
        body = f'<table id="slot" data-slot-id="{html.escape(slot.id)}">{table}</table>{who}'
        return _html_page(body)


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )


def _html_page(body: str, status: int = 200) -> Response:
    page = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Prise de rendez-vous — simulation éditeur</title></head><body>"
        f"<h1>Prise de rendez-vous — simulation éditeur</h1>{body}</body></html>"
    )
    return Response(page, status=status, mimetype="text/html")


# ------------------------------------------------------------------- individual PS (INT_R01)

PS_SEARCH = SearchSpec(
    date_param="start",
    status_param="status",
    id_param="schedule.actor:Practitioner.identifier",
    id_system=IDNPS_SYSTEM,
)

_FAMILY = (
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "Laurent",
    "Girard",
    "Bonnet",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Faure",
    "Mercier",
    "Blanc",
    "Garnier",
    "Chevalier",
)
_GIVEN = (
    "Camille",
    "Claire",
    "Julie",
    "Sophie",
    "Nicolas",
    "Julien",
    "Thomas",
    "Pierre",
    "Antoine",
    "Hélène",
    "Mathilde",
    "Guillaume",
    "Sébastien",
    "Inès",
    "Yann",
    "Lucie",
)
_STREETS = (
    "rue des Tilleuls",
    "avenue du Moulin",
    "rue de la Fontaine",
    "place des Écoles",
    "boulevard des Vignes",
    "chemin du Verger",
    "allée des Acacias",
    "rue du Stade",
)
#: Real communes for generated addresses (the streets are made up).
TOWNS = (
    ("47000", "Agen"),
    ("92100", "Boulogne-Billancourt"),
    ("35000", "Rennes"),
    ("31000", "Toulouse"),
    ("33000", "Bordeaux"),
    ("69003", "Lyon"),
)


def generated_practitioner(seed: int, national_id: str) -> PractitionerInfo:
    """A plausible, deterministic identity for a national id the sandbox was not told about."""
    rng = random.Random(f"{seed}:{national_id}:profil")
    postal_code, city = rng.choice(TOWNS)
    return PractitionerInfo(
        family_name=rng.choice(_FAMILY),
        given_name=rng.choice(_GIVEN),
        line=f"{rng.randint(1, 120)} {rng.choice(_STREETS)}",
        postal_code=postal_code,
        city=city,
        structure="3999" + f"{rng.randrange(10**11):011d}",
        phone="+3319900" + f"{rng.randrange(10**4):04d}",
    )


class PractitionerSandbox(SandboxServer):
    """The individual-PS slot search: ``GET /fhir/Slot?…`` (INT_R01).

    Graph: Slot (match) → Schedule → Practitioner + PractitionerRole (contained
    Location, ``organization.identifier`` = IDNST), included as the query asks.
    """

    flow: Flow = "ps"
    resource_types: tuple[str, ...] = ("Slot", "Schedule", "Practitioner", "PractitionerRole")
    bundle_profile = PROFILE_BUNDLE
    slot_profile = PROFILE_SLOT

    def __init__(
        self,
        *,
        seed: int = 0,
        port: int = 0,
        behaviour: Behaviour | None = None,
        practitioners: Mapping[str, PractitionerInfo] | None = None,
    ) -> None:
        super().__init__(seed=seed, port=port, behaviour=behaviour)
        self.practitioners: dict[str, PractitionerInfo] = dict(practitioners or {})

    def practitioner(self, national_id: str) -> PractitionerInfo:
        info = self.practitioners.get(national_id)
        if info is None:
            info = self.practitioners[national_id] = generated_practitioner(self.seed, national_id)
        return info

    def timezone_for(self, key: str) -> str:
        return self.practitioner(key).tz

    def handle_fhir(self, request: Request, path: str, *, malformed: bool) -> Response | None:
        if path == "Slot" and request.method == "GET":
            return self.search(request.query_string.decode("latin-1"), malformed=malformed)
        return None

    def search(self, query_string: str, *, malformed: bool = False) -> Response:
        """Answer a slot search (callable directly on a started server, e.g. to warm it)."""
        params = parse_search(query_string, PS_SEARCH)
        entries: list[str] = []
        seen: set[str] = set()
        total = 0
        for national_id in params.ids:
            slots = self.matching(national_id, params)
            if not slots:
                continue
            info = self.practitioner(national_id)
            total += len(slots)
            entries.extend(
                self.entry("Slot", s.id, "match", self.slot_json, s, info) for s in slots
            )
            for entry in self.includes(national_id, info, params):
                if entry not in seen:
                    seen.add(entry)
                    entries.append(entry)
        if malformed:
            broken = self.broken_entries(params, entries, "match")
            entries.extend(broken)
            total += len(broken)
        return self.searchset("Slot", query_string, self.bundle_profile, total, entries)

    def includes(self, national_id: str, info: PractitionerInfo, params: SearchParams) -> list[str]:
        """The included entries for one practitioner that has matching slots."""
        fid = fhir_id(national_id)
        out: list[str] = []
        if params.includes("Slot:schedule"):
            out.append(self.entry("Schedule", f"sched-{fid}", "include", self.schedule_json, fid))
        if params.includes("Schedule:actor", "Schedule:actor:Practitioner"):
            out.append(
                self.entry(
                    "Practitioner", fid, "include", self.practitioner_json, national_id, info
                )
            )
        if params.includes("Schedule:actor", "Schedule:actor:PractitionerRole"):
            out.append(
                self.entry("PractitionerRole", f"role-{fid}", "include", self.role_json, fid, info)
            )
        return out

    # -- resources

    def slot_data(self, slot: AgendaSlot, info: PractitionerInfo) -> dict[str, Any]:
        service_type: list[dict[str, Any]] = [coding(ACTCODE_SYSTEM, m) for m in slot.modalities]
        data: dict[str, Any] = {
            "resourceType": "Slot",
            "id": slot.id,
            "meta": {
                "profile": [self.slot_profile],
                "security": [{"system": R314_SYSTEM, "code": k} for k in slot.kinds],
            },
            "serviceType": service_type + [{"text": r} for r in slot.reasons],
            "specialty": [coding(R38_SYSTEM, info.specialty)],
            "appointmentType": coding(
                APPOINTMENT_TYPE_SYSTEM, "WALKIN" if slot.walk_in else "ROUTINE"
            ),
            "schedule": {"reference": f"Schedule/sched-{fhir_id(slot.key)}"},
            "status": "free" if slot.free else "busy",
            "start": slot.start.isoformat(timespec="milliseconds"),
            "end": slot.end.isoformat(timespec="milliseconds"),
        }
        url = self.booking_url(slot)
        if url:
            data["comment"] = url
        return data

    def slot_json(self, slot: AgendaSlot, info: PractitionerInfo) -> str:
        return resource_json(Slot, self.slot_data(slot, info))

    def schedule_json(self, fid: str) -> str:
        return resource_json(
            Schedule,
            {
                "resourceType": "Schedule",
                "id": f"sched-{fid}",
                "meta": {"profile": [PROFILE_SCHEDULE]},
                "actor": [
                    {"reference": f"Practitioner/{fid}"},
                    {"reference": f"PractitionerRole/role-{fid}"},
                ],
            },
        )

    def practitioner_json(self, national_id: str, info: PractitionerInfo) -> str:
        return resource_json(
            Practitioner,
            {
                "resourceType": "Practitioner",
                "id": fhir_id(national_id),
                "meta": {"profile": [PROFILE_PRACTITIONER]},
                "identifier": [identifier(IDNPS_SYSTEM, national_id, "IDNPS")],
                "name": [human_name(info.family_name, info.given_name)],
            },
        )

    def role_json(self, fid: str, info: PractitionerInfo) -> str:
        location: dict[str, Any] = {
            "resourceType": "Location",
            "id": "lieu",
            "meta": {"profile": [PROFILE_LOCATION]},
            "identifier": [identifier(PLACE_SYSTEM, fid, "INTRN", LOCATION_ID_TYPE_SYSTEM)],
        }
        if info.line or info.city or info.postal_code:
            location["address"] = address(info.line, info.postal_code, info.city)
        data: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": f"role-{fid}",
            "meta": {"profile": [PROFILE_ROLE]},
            "contained": [location],
            "practitioner": {"reference": f"Practitioner/{fid}"},
            "location": [{"reference": "#lieu"}],
        }
        if info.structure:
            data["organization"] = {"identifier": identifier(IDNST_SYSTEM, info.structure, "IDNST")}
        if info.phone:
            data["telecom"] = [{"system": "phone", "value": info.phone}]
        return resource_json(PractitionerRole, data)

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        info = self.practitioner(slot.key)
        place = ", ".join(p for p in (info.line, f"{info.postal_code} {info.city}".strip()) if p)
        return [("Praticien", f"{info.display_name} ({slot.key})"), ("Adresse", place)]


# --------------------------------------------------------------------------- command line


def run_cli(
    factory: Callable[..., SandboxServer], description: str, argv: Iterable[str] | None = None
) -> int:
    """``python -m connectors.<name>.sandbox --port 8101``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port (0 : port libre)")
    parser.add_argument("--seed", type=int, default=0, help="graine des agendas")
    parser.add_argument("--mode", choices=MODES, default="ok", help="comportement simulé")
    parser.add_argument("--latency", type=float, default=0.0, help="latence ajoutée (s)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = factory(
        seed=args.seed, port=args.port, behaviour=Behaviour(mode=args.mode, latency_s=args.latency)
    )
    server.start()
    print(f"{description} : {server.url}  (contrôle : {server.base_url}/_sandbox/behaviour)")
    print("Ctrl-C pour arrêter.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
