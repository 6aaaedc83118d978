"""Exceptions raised by connectors and understood by the portal.

Connectors turn upstream failures into these (``raise … from exc``), so the
portal can show one clear per-connector notice and decide whether to retry.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: something went wrong talking to an upstream."""

    retryable: bool = False

    def __init__(self, message: str, *, diagnostics: str | None = None) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics


class Unavailable(ConnectorError):
    """The upstream is down, slow or answered 5xx; trying again later may work."""

    retryable = True


class ConnectorTimeout(Unavailable):
    """The upstream did not answer within the deadline."""


class AuthError(ConnectorError):
    """The upstream refused our credentials (401/403, bad client certificate)."""


class SlotNoLongerAvailable(ConnectorError):
    """The slot was taken between the search and the booking."""


class UpstreamRejected(ConnectorError):
    """The upstream rejected the request (400/422 with an OperationOutcome)."""


class MalformedResponse(ConnectorError):
    """The upstream answered something that is not what the specification says."""
