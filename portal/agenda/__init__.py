"""The SAS agenda: availability entered by hand in the portal, a built-in slot source.

Registered under the ``sas_portal.connectors`` entry-point group like any connector
(its hooks are here). The agenda issue fills it: entries, recurrence, rosters.

May import: the contract, ``portal.models``, ``portal.audit``, ``portal.reference`` and
the domain packages to its left (directory, identity, slots). Never Flask, views,
commands, jobs or devtools.
"""

from __future__ import annotations

from hookspecs import hookimpl
from portal.domain import ConnectorInfo

NAME = "sas_agenda"


@hookimpl
def connector_info() -> ConnectorInfo:
    return ConnectorInfo(
        name=NAME,
        label="Agenda SAS (saisie manuelle)",
        kind="agenda",
        # Nothing yet: the agenda issue adds "slots" and "booking_direct" with their hooks.
        capabilities=frozenset(),
        refresh_interval_s=60,
    )
