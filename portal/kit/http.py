"""HTTP helpers shared by the connectors that speak the national FHIR guide.

One place for what every editor client needs: the endpoint read from a
connector's configuration section (mTLS, CA bundle, timeout), the httpx client
built from it, FHIR search query encoding and dates, batching of national ids,
the table turning HTTP failures into :mod:`portal.errors`, and the booking
redirect with ``origin``. Connectors may import this module (it is part of the
public plugin API, like :mod:`portal.fhir`).
"""

from __future__ import annotations

import random
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx

from portal.domain import MAX_IDS_PER_REQUEST, Booking, Slot, SlotQuery, SlotTarget
from portal.errors import (
    AuthError,
    ConnectorError,
    ConnectorTimeout,
    SlotNoLongerAvailable,
    Unavailable,
    UpstreamRejected,
)

FHIR_JSON = "application/fhir+json"
#: Practitioner national id (IDNPS), value ``8``+RPPS, ``0``+ADELI.
#: Structure national id (IDNST), value ``1``+FINESS, ``3``+SIRET.
#: The SAS platform: ``meta.source`` of regulator accounts and their technical UUID system.
#: The national rule: dates of searches are sent in metropolitan French time.
PARIS = ZoneInfo("Europe/Paris")
DEFAULT_TIMEOUT_S = 7.0
DEFAULT_ORIGIN = "sas-portal"
#: Statuses worth one more GET after a short jittered pause (a gateway hiccup).
_TRANSIENT = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One upstream FHIR server, as described by a configuration section."""

    source: str
    base_url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    origin: str = DEFAULT_ORIGIN
    timeout_s: float = DEFAULT_TIMEOUT_S
    proxy: str | None = None

    @classmethod
    def from_config(cls, source: str, section: Mapping[str, Any] | None) -> Endpoint:
        """Read a section (``base_url``, ``client_cert``, ``client_key``, ``ca_bundle``,
        ``origin``, ``enabled``, ``timeout_s``, optional ``proxy``).

        :raises ConnectorError: when the section is missing, disabled or has no ``base_url``.
        """
        if section is None:
            raise ConnectorError(f"{source} : aucune configuration pour cette source")
        if not section.get("enabled", True):
            raise ConnectorError(f"{source} : source désactivée dans la configuration")
        base_url = str(section.get("base_url") or "").strip()
        if not base_url.startswith(("http://", "https://")):
            raise ConnectorError(f"{source} : configuration incomplète (base_url http(s) requise)")
        timeout = section.get("timeout_s")
        return cls(
            source=source,
            base_url=base_url.rstrip("/"),
            client_cert=section.get("client_cert") or None,
            client_key=section.get("client_key") or None,
            ca_bundle=section.get("ca_bundle") or None,
            origin=str(section.get("origin") or DEFAULT_ORIGIN),
            timeout_s=float(timeout) if timeout is not None else DEFAULT_TIMEOUT_S,
            proxy=section.get("proxy") or None,
        )

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        """``[base]/path?query``, the query encoded by :func:`encode_query`."""
        query = encode_query(params)
        return f"{self.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")


# --------------------------------------------------------------------------- client


def ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Server verification (``ca_bundle`` or the default CAs) and the client certificate.

    httpx 0.28 deprecates ``cert=`` and ``verify=<path>``: the context is built here.
    """
    try:
        if endpoint.ca_bundle:
            context = ssl.create_default_context(cafile=endpoint.ca_bundle)
        else:
            context = httpx.create_ssl_context(trust_env=False)
        if endpoint.client_cert:
            context.load_cert_chain(endpoint.client_cert, endpoint.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectorError(
            f"{endpoint.source} : certificat client ou autorité de certification illisible ({exc})"
        ) from exc
    return context


def make_client(
    endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client for ``endpoint``: explicit timeout, FHIR JSON, mTLS.

    Connection failures are retried once by the transport (the request never
    left, so this is safe for any method). ``transport`` replaces the network
    in tests (``httpx.MockTransport``). The environment is never read.
    """
    if transport is None:
        transport = httpx.HTTPTransport(
            verify=ssl_context(endpoint), retries=1, trust_env=False, proxy=endpoint.proxy
        )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(endpoint.timeout_s),
        headers={"Accept": FHIR_JSON},
        trust_env=False,
        follow_redirects=False,
    )


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    source: str,
    json: Any = None,
    attempts: int | None = None,
) -> httpx.Response:
    """Send one request; return a 2xx response or raise the mapped :class:`ConnectorError`.

    A GET (idempotent) gets one more try after a jittered pause on 502/503/504
    or a dropped connection; a POST/PUT never does (the portal's outbox retries).
    """
    idempotent = method.upper() == "GET"
    tries = attempts if attempts is not None else (2 if idempotent else 1)
    headers = {"Content-Type": FHIR_JSON} if json is not None else None
    for attempt in range(1, tries + 1):
        last = attempt == tries
        try:
            response = client.request(method, url, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise ConnectorTimeout(f"{source} n'a pas répondu à temps ({exc!s})") from exc
        except httpx.TransportError as exc:
            if "CERTIFICATE" in str(exc).upper():  # TLS refused: ours or theirs, not transient
                raise AuthError(
                    f"{source} : échec de l'authentification TLS (certificat) ({exc!s})"
                ) from exc
            dropped = isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
            if last or not dropped:
                what = "a coupé la connexion" if dropped else "est injoignable"
                raise Unavailable(f"{source} {what} ({exc!s})") from exc
        else:
            if response.status_code not in _TRANSIENT or last:
                raise_for_status(response, source=source)
                return response
        time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("unreachable")  # pragma: no cover


def search_batches(
    endpoint: Endpoint,
    resource: str,
    ids: Iterable[str],
    params_for: Callable[[list[str]], Sequence[tuple[str, str]]],
    *,
    transport: httpx.BaseTransport | None = None,
) -> Iterator[tuple[list[str], bytes]]:
    """``GET [base]/resource?…`` per batch of at most 25 ids; yields ``(batch, body)``."""
    with make_client(endpoint, transport=transport) as client:
        for batch in batched(ids):
            url = endpoint.url(resource, params_for(batch))
            yield batch, send(client, "GET", url, source=endpoint.source).content


# --------------------------------------------------------------------------- errors


def operation_outcome_diagnostics(response: httpx.Response) -> str | None:
    """The OperationOutcome's ``diagnostics``/``details.text``, else a snippet of the body."""
    try:
        data = response.json()
    except ValueError:
        snippet = response.text.strip()
        return snippet[:300] or None
    if isinstance(data, Mapping) and data.get("resourceType") == "OperationOutcome":
        parts: list[str] = []
        for issue in data.get("issue") or []:
            if not isinstance(issue, Mapping):
                continue
            details = issue.get("details")
            text = issue.get("diagnostics") or (
                details.get("text") if isinstance(details, Mapping) else None
            )
            if text:
                parts.append(str(text))
        return "; ".join(parts) or None
    return None


#: HTTP status → (exception class, French message). 5xx and other 4xx: see ``error_for``.
STATUS_ERRORS: Mapping[int, tuple[type[ConnectorError], str]] = {
    400: (UpstreamRejected, "{source} a rejeté la requête (HTTP {status})"),
    401: (AuthError, "{source} a refusé nos identifiants (HTTP {status})"),
    403: (AuthError, "{source} a refusé l'accès (HTTP {status})"),
    404: (
        UpstreamRejected,
        "{source} : point d'accès introuvable (HTTP {status}), URL mal configurée ?",
    ),
    409: (SlotNoLongerAvailable, "{source} : le créneau n'est plus disponible (HTTP {status})"),
    410: (SlotNoLongerAvailable, "{source} : le créneau n'est plus disponible (HTTP {status})"),
    422: (UpstreamRejected, "{source} a rejeté la requête (HTTP {status})"),
    429: (Unavailable, "{source} limite le nombre de requêtes (HTTP {status})"),
}


def error_for(response: httpx.Response, *, source: str) -> ConnectorError:
    """The exception for a non-2xx ``response`` (see :data:`STATUS_ERRORS`)."""
    status = response.status_code
    if status in STATUS_ERRORS:
        cls, template = STATUS_ERRORS[status]
    elif status >= 500:
        cls, template = Unavailable, "{source} est en erreur (HTTP {status})"
    else:
        cls, template = UpstreamRejected, "{source} a répondu de façon inattendue (HTTP {status})"
    diagnostics = operation_outcome_diagnostics(response)
    message = template.format(source=source, status=status)
    if diagnostics:
        message = f"{message} : {diagnostics}"
    return cls(message, diagnostics=diagnostics)


def with_source(exc: ConnectorError, source: str) -> ConnectorError:
    """The same error, its message naming ``source`` (and holding its diagnostics)."""
    message = f"{source} : {exc}"
    if exc.diagnostics and exc.diagnostics not in message:
        message = f"{message} : {exc.diagnostics}"
    return type(exc)(message, diagnostics=exc.diagnostics)


def raise_for_status(response: httpx.Response, *, source: str) -> None:
    """Raise the mapped :class:`ConnectorError` (``from`` httpx's own) unless 2xx."""
    if response.is_success:
        return
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise error_for(response, source=source) from exc
    raise error_for(response, source=source)  # 1xx/3xx: httpx does not raise for those


def raise_failures(failures: Sequence[ConnectorError]) -> None:
    """Raise once for several sources tried in turn: the error itself when there is
    one, else a summary (retryable when one of them is, so the caller tries again)."""
    if not failures:
        return
    if len(failures) == 1:
        raise failures[0]
    cls = Unavailable if any(f.retryable for f in failures) else ConnectorError
    diagnostics = [f.diagnostics for f in failures if f.diagnostics]
    raise cls(
        f"{len(failures)} sources en échec : " + " ; ".join(str(f) for f in failures),
        diagnostics="; ".join(diagnostics) or None,
    ) from failures[0]


# --------------------------------------------------------------------------- queries


def targets_by_source(query: SlotQuery, name: str) -> dict[str, list[SlotTarget]]:
    """The query's targets bound to connector ``name`` (``name`` or ``name:…``), by source."""
    groups: dict[str, list[SlotTarget]] = {}
    for target in query.for_source(name):
        groups.setdefault(target.source, []).append(target)
    return groups


def fhir_instant(moment: datetime) -> str:
    """``2024-06-12T16:20:00.000+02:00``: milliseconds and the Europe/Paris offset."""
    if moment.tzinfo is None:
        raise ValueError("a FHIR search date must be timezone-aware")
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def identifier_token(system: str, values: Iterable[str]) -> str:
    """``system|v1,system|v2`` (FHIR token search, OR-ed by commas)."""
    return ",".join(f"{system}|{value}" for value in values)


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """Encode search parameters, keeping FHIR's ``:`` ``.`` and the ``,`` OR separator
    readable and encoding the rest (``|`` → ``%7C``, ``+`` → ``%2B``)."""
    return "&".join(f"{quote(k, safe=':.')}={quote(v, safe=':,')}" for k, v in params)


def batched(ids: Iterable[str], size: int = MAX_IDS_PER_REQUEST) -> Iterator[list[str]]:
    """Distinct ids in order, ``size`` at a time (the national rule: at most 25)."""
    unique = list(dict.fromkeys(ids))
    for i in range(0, len(unique), size):
        yield unique[i : i + size]


def select_slots(
    slots: Iterable[Slot],
    *,
    start: datetime,
    end: datetime,
    practitioners: Iterable[str] | None = None,
    structures: Iterable[str] | None = None,
) -> tuple[list[Slot], int]:
    """Keep the slots starting within ``[start, end]`` of the asked ids; count the rest."""
    wanted_ps = set(practitioners) if practitioners is not None else None
    wanted_st = set(structures) if structures is not None else None
    kept: list[Slot] = []
    dropped = 0
    for slot in slots:
        if (
            start <= slot.start <= end
            and (wanted_ps is None or slot.practitioner in wanted_ps)
            and (wanted_st is None or slot.structure in wanted_st)
        ):
            kept.append(slot)
        else:
            dropped += 1
    return kept, dropped


# --------------------------------------------------------------------------- booking


def with_origin(url: str, origin: str) -> str:
    """``url`` with ``origin=<origin>`` appended to its query (existing parameters kept
    as they are, a previous ``origin`` replaced, the fragment kept last)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != "origin"]
    kept.append(f"origin={quote(origin, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def redirect_booking(slot: Slot, *, origin: str) -> Booking:
    """The redirect to the editor's booking page (SSO "flow V2" is the editor's job).

    :raises UpstreamRejected: walk-in slot, or no usable booking URL.
    """
    if not slot.bookable:
        raise UpstreamRejected(
            f"{slot.source} : ce créneau est sans rendez-vous (accueil libre), "
            "il ne se réserve pas ; orientez le patient directement"
        )
    url = (slot.booking_url or "").strip()
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise UpstreamRejected(
            f"{slot.source} : ce créneau n'a pas de lien de réservation valide"
            + (f" ({url[:100]})" if url else "")
        )
    return Booking(
        source=slot.source,
        slot_id=slot.id,
        status="redirect",
        redirect_url=with_origin(url, origin),
    )


def fetch_window(
    endpoint: Endpoint,
    resource: str,
    ids: Iterable[str],
    params_for: Callable[[list[str]], Sequence[tuple[str, str]]],
    read: Callable[[bytes], tuple[list[Slot], list[str]]],
    *,
    query: SlotQuery,
    owners: str,
    log: Any,
    transport: httpx.BaseTransport | None = None,
) -> list[Slot]:
    """The search loop every guide-conformant connector runs: batches of ≤ 25 ids,
    tolerant reading (warnings logged), then only the asked owners' slots in the window.

    :param owners: ``"practitioners"`` or ``"structures"``: which ids the batch names.
    """
    source = endpoint.source
    slots: list[Slot] = []
    for batch, body in search_batches(endpoint, resource, ids, params_for, transport=transport):
        found, warnings = read(body)
        for warning in warnings:
            log.warning("%s : %s", source, warning)
        kept, dropped = select_slots(found, start=query.start, end=query.end, **{owners: batch})
        if dropped:
            log.warning(
                "%s a renvoyé %d créneau(x) hors fenêtre ou pour des identifiants non demandés "
                "(ignorés)",
                source,
                dropped,
            )
        slots.extend(kept)
    return slots
