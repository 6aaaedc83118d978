"""The connector contract of sas-portal — the public API for integrators.

A connector is a Python package registered under the entry-point group
``sas_portal.connectors``. Its module implements some of the hooks below,
marked with ``@hookimpl``::

    from portal import hookimpl, ConnectorInfo, Slot, SlotQuery

    @hookimpl
    def connector_info():
        return ConnectorInfo(name="my_editor", label="Mon éditeur", kind="editor")

Every hook receives ``config``: the connector's own configuration section (a
mapping, possibly empty). Connectors never read the environment nor import
the portal's views, models or services.

The portal calls each implementation separately (``portal.plugins.call_each``)
and concurrently, under a deadline, so a raising or hanging connector only
produces a notice for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portal.domain import (
        Booking,
        BookingRequest,
        ConnectorInfo,
        RegulatorAccount,
        Slot,
        SlotQuery,
    )

PROJECT_NAME = "sas_portal"
ENTRY_POINT_GROUP = "sas_portal.connectors"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def connector_info() -> ConnectorInfo:
    """Describe the connector: name, label, kind and capabilities.

    Called once when the plugin manager is built and whenever the portal lists
    connectors (``sas-portal connectors``, the administration pages).

    :return: a :class:`portal.domain.ConnectorInfo`. Its ``name`` is the
        connector's key in configuration and in ``Slot.source``.
    """


@hookspec
def fetch_slots(query: SlotQuery, config: Mapping[str, Any]) -> list[Slot] | None:
    """Return the free slots of the targets of ``query`` this connector serves.

    Called at search time and by the scheduled refresh, per connector,
    concurrently, under a deadline (default 7 s); a late answer is ignored.
    Upstream requests carry at most 25 national ids each.

    :param query: the targets (prefixed national ids, with the source they are
        bound to) and the window ``[query.start, query.end]`` (timezone-aware).
    :param config: this connector's configuration section.
    :return: the normalised slots, possibly empty; ``None`` when none of the
        query's targets is bound to this connector.
    :raises portal.errors.ConnectorError: on upstream failure.
    """


@hookspec(firstresult=True)
def book_slot(slot: Slot, request: BookingRequest, config: Mapping[str, Any]) -> Booking | None:
    """Book ``slot``, or say where to send the regulator to book it.

    ``firstresult``: the first connector returning something other than
    ``None`` wins; a connector returns ``None`` for slots it does not own.

    :param slot: the slot chosen by the regulator (its ``source`` names its owner).
    :param request: the regulator and the LRM context; never patient identity.
    :param config: this connector's configuration section.
    :return: a :class:`portal.domain.Booking` with a redirect URL (editors that
        book in their own UI, ``origin`` appended) or a confirmed booking.
    :raises portal.errors.SlotNoLongerAvailable: when the slot is gone.
    """


@hookspec(firstresult=True)
def cancel_booking(booking: Booking, config: Mapping[str, Any]) -> bool | None:
    """Cancel a confirmed booking.

    ``firstresult``: the owner of ``booking.source`` answers, others return ``None``.

    :return: ``True`` when cancelled, ``False`` when the upstream refused.
    """


@hookspec
def provision_regulator(account: RegulatorAccount, config: Mapping[str, Any]) -> None:
    """Push a regulator account to the editor (INT_R02).

    Called when a regulator logs in (create or update) and at once when they
    lose their habilitation (``account.active`` is ``False``: deactivation).
    Connectors without the ``accounts`` capability do not implement it.

    :raises portal.errors.ConnectorError: the portal's outbox retries
        retryable errors.
    """
