"""Upstream HTTP failures turned into the portal's exceptions (:mod:`portal.errors`).

One table maps an HTTP status to an exception class and a French message; the
diagnostics of a FHIR ``OperationOutcome`` are appended so administrators read the
editor's own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from portal.errors import (
    AuthError,
    ConnectorError,
    SlotNoLongerAvailable,
    Unavailable,
    UpstreamRejected,
)


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
