"""The public connector toolkit: what a connector needs to talk to an editor over HTTP.

Modules: ``endpoint`` (``Endpoint`` read from a configuration section, its mutual-TLS
context, ``check_section`` for the ``check_config`` hook), ``client`` (clients with
explicit timeouts that ignore the environment, ``ClientPool``: one pooled client per
endpoint per process, ``send`` with a jittered retry for GETs only), ``errors`` (the
HTTP status → exception table, OperationOutcome diagnostics), ``search`` (batched
FHIR searches of at most 25 ids, identifier tokens, ``fetch_window``) and ``booking``
(the redirect with ``origin``). Import the names from ``portal.kit`` itself.

Public API for integrators, beside ``hookspecs`` and ``portal.domain``. May import:
the contract (``portal.domain``, ``portal.errors``, ``portal.identifiers``) and
``portal.fhir``. No database, no Flask, no domain package.
"""

from portal.kit.booking import redirect_booking, with_origin
from portal.kit.client import FHIR_JSON, ClientPool, make_client, send
from portal.kit.endpoint import (
    DEFAULT_ORIGIN,
    DEFAULT_TIMEOUT_S,
    Endpoint,
    check_section,
    encode_query,
    ssl_context,
)
from portal.kit.errors import (
    STATUS_ERRORS,
    error_for,
    operation_outcome_diagnostics,
    raise_failures,
    raise_for_status,
    with_source,
)
from portal.kit.search import (
    PARIS,
    batched,
    fetch_window,
    fhir_instant,
    identifier_token,
    search_batches,
    select_slots,
    targets_by_source,
)

__all__ = [
    "DEFAULT_ORIGIN",
    "DEFAULT_TIMEOUT_S",
    "FHIR_JSON",
    "PARIS",
    "STATUS_ERRORS",
    "ClientPool",
    "Endpoint",
    "batched",
    "check_section",
    "encode_query",
    "error_for",
    "fetch_window",
    "fhir_instant",
    "identifier_token",
    "make_client",
    "operation_outcome_diagnostics",
    "raise_failures",
    "raise_for_status",
    "redirect_booking",
    "search_batches",
    "select_slots",
    "send",
    "ssl_context",
    "targets_by_source",
    "with_origin",
    "with_source",
]
