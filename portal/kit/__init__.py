"""The public connector toolkit: what a connector needs to talk to an editor over HTTP.

Modules: ``http`` (``Endpoint``, mutual-TLS context, clients with explicit timeouts
that ignore environment proxies, the HTTP status → exception table, batched FHIR
searches of at most 25 ids, the booking redirect with ``origin``).

Public API for integrators, beside ``hookspecs`` and ``portal.domain``. May import:
the contract (``portal.domain``, ``portal.errors``, ``portal.identifiers``) and
``portal.fhir``. No database, no Flask, no domain package.
"""
