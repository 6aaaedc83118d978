"""The connector contract of sas-portal — the public API for integrators.

A connector is a Python package registered under the entry-point group
``sas_portal.connectors``. Its module implements some of the hooks below,
marked with ``@hookimpl``::

    from portal import hookimpl, ConnectorInfo, Slot, SlotQuery

    @hookimpl
    def connector_info():
        return ConnectorInfo(name="my_editor", label="Mon éditeur", kind="editor")

The hooks that take ``config`` receive the connector's own configuration section
(a mapping, possibly empty). Connectors never read the environment nor import
the portal's views, models or services.

The portal calls each implementation separately (``portal.plugins.call_each``)
and concurrently, under a deadline, so a raising or hanging connector only
produces a notice for itself. ``book_slot`` and ``cancel_booking`` are routed:
only the connector owning the slot's (or booking's) source is called
(``portal.plugins.call_owner``); a source is ``<connector>`` or
``<connector>:<sub-source>`` (``portal.domain.source_plugin``).

When loading, the portal refuses (does not register, and reports through
``sas-portal connectors`` and ``/healthz``) a connector whose
``connector_info()`` claims a capability without its hook (see
:data:`CAPABILITY_HOOKS`) or requires a contract the portal does not fulfil
(:data:`CONTRACT_VERSION`: another major version, or a newer minor one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from datetime import datetime

    from portal.domain import (
        Booking,
        BookingRequest,
        ConnectorInfo,
        PartialSlots,
        RegulatorAccount,
        Slot,
        SlotQuery,
    )

PROJECT_NAME = "sas_portal"
ENTRY_POINT_GROUP = "sas_portal.connectors"
#: The version of this contract, ``major.minor``. A connector states the version it
#: was written for in ``ConnectorInfo.requires_contract``; the portal loads it when
#: the majors are equal and the portal's minor is at least the connector's.
#: 1.1: ``startup``, ``shutdown``, ``check_config``; booking routed by source.
CONTRACT_VERSION = "1.1"
#: The hook each capability needs: a connector claiming the capability without
#: implementing the hook is refused at load (``slots``: ``fetch_slots``, or
#: ``fetch_source_slots`` for a bulk publisher; see ``portal.loading``).
CAPABILITY_HOOKS: Mapping[str, str] = {
    "slots": "fetch_slots",
    "booking_redirect": "book_slot",
    "booking_direct": "book_slot",
    "accounts": "provision_regulator",
}

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def connector_info() -> ConnectorInfo:
    """Describe the connector: name, label, kind and capabilities.

    Called once when the plugin manager is built (the capabilities and
    ``requires_contract`` are checked then) and whenever the portal lists
    connectors (``sas-portal connectors``, ``/healthz``, the administration
    pages). Every connector implements it; it must not do I/O.

    :return: a :class:`portal.domain.ConnectorInfo`. Its ``name`` is the
        connector's key in configuration, its entry-point name and the prefix
        of ``Slot.source``. An exception refuses the connector at load.
    """


@hookspec
def check_config(config: Mapping[str, Any]) -> list[str]:
    """Say what is wrong with this connector's configuration section.

    Called once per process when the application is built (web, scheduler,
    command line), before ``startup``, so a bad section is reported at start
    by ``sas-portal connectors`` and ``/healthz`` rather than at the first
    search. It must not contact the upstream (it runs under a 2 s deadline).

    :param config: this connector's configuration section; empty when the
        connector is not configured (return ``[]`` if that is not a problem).
    :return: one French sentence per problem, naming the faulty key (missing
        or invalid ``base_url``, certificate file not found…); ``[]`` when the
        section is usable. The connector stays loaded either way: its calls
        will fail with a :class:`portal.errors.ConnectorError` until fixed.
        An exception is reported as one problem.
    """


@hookspec
def startup(config: Mapping[str, Any]) -> None:
    """Prepare process-wide resources: open pooled HTTP clients (TLS sessions reused).

    Called once per process, when the application is built (web worker,
    scheduler, command line), after ``check_config``; each connector is
    called separately, so one failing never blocks the others (the failure
    is logged). Hooks may be called before ``startup`` (tests, scripts): a
    connector then works with one-off clients.

    :param config: this connector's configuration section.
    :return: nothing; a return value is ignored.
    """


@hookspec
def shutdown() -> None:
    """Release what ``startup`` opened (close pooled clients).

    Called once at process exit (``atexit``), for connectors whose ``startup``
    was called, each separately: an exception is logged and the others are
    still shut down. Must be idempotent and quick (a 2 s deadline).

    :return: nothing; a return value is ignored.
    """


@hookspec
def fetch_slots(query: SlotQuery, config: Mapping[str, Any]) -> list[Slot] | None:
    """Return the free slots of the targets of ``query`` this connector serves.

    Called at search time and by the scheduled refresh, per source and batch
    of at most 25 targets, concurrently with the other connectors, under a
    deadline (default 7 s): a late answer is ignored and the source marked
    as timed out. Upstream requests carry at most 25 national ids each.

    :param query: the targets (prefixed national ids, with the source they are
        bound to) and the window ``[query.start, query.end]`` (timezone-aware).
    :param config: this connector's configuration section.
    :return: the normalised slots, possibly empty (an empty list means "no free
        slot": the cache is emptied for these targets); ``None`` when none of
        the query's targets is bound to this connector (nothing is changed).
    :raises portal.errors.ConnectorError: on upstream failure: the source is
        reported as failed and its last-known slots are kept.
    """


@hookspec(firstresult=True)
def book_slot(slot: Slot, request: BookingRequest, config: Mapping[str, Any]) -> Booking | None:
    """Book ``slot``, or say where to send the regulator to book it.

    Called when a regulator picks a slot. Routed: the portal calls only the
    connector owning ``slot.source`` (``portal.plugins.call_owner``), under a
    deadline. ``firstresult``: through ``pm.hook.book_slot`` (the conformance
    kit) the first answer other than ``None`` wins, so a connector still
    returns ``None`` for a slot it does not own. Needs the capability
    ``booking_redirect`` or ``booking_direct``.

    :param slot: the slot chosen by the regulator (its ``source`` names its owner).
    :param request: the regulator and the LRM context; never patient identity.
    :param config: this connector's configuration section.
    :return: a :class:`portal.domain.Booking` with a redirect URL (editors that
        book in their own UI, ``origin`` appended) or a confirmed booking;
        ``None`` when the slot is not this connector's.
    :raises portal.errors.SlotNoLongerAvailable: when the slot is gone.
    :raises portal.errors.ConnectorError: any other failure (shown to the
        regulator, who can book by phone).
    """


@hookspec(firstresult=True)
def cancel_booking(booking: Booking, config: Mapping[str, Any]) -> bool | None:
    """Cancel a confirmed booking.

    Called when a regulator cancels a booking made with ``book_slot`` (direct
    bookings only: a redirect is cancelled in the editor's own UI). Routed
    like ``book_slot`` to the owner of ``booking.source``; ``firstresult``.
    Needs the capability ``booking_direct``.

    :param booking: the confirmed booking, as ``book_slot`` returned it.
    :param config: this connector's configuration section.
    :return: ``True`` when cancelled, ``False`` when the upstream refused (the
        booking stands); ``None`` when the booking is not this connector's.
    :raises portal.errors.ConnectorError: when the upstream could not be asked.
    """


@hookspec
def provision_regulator(account: RegulatorAccount, config: Mapping[str, Any]) -> None:
    """Push a regulator account to the editor (INT_R02).

    Called in the background when a regulator logs in (create or update) and
    at once when they lose their habilitation (``account.active`` is
    ``False``: deactivation), once per connector with the ``accounts``
    capability, each separately. Connectors without it do not implement it.

    :param account: the regulator's identity (national id, names, e-mail);
        never any patient data.
    :param config: this connector's configuration section.
    :return: nothing; returning means every upstream accepted the account.
    :raises portal.errors.ConnectorError: the portal's outbox retries
        retryable errors.
    """


# --- Optional hooks for bulk publishers and self-describing editors -------------------
# (SlotBatch-style partial answers: ``portal.domain.PartialSlots``.)


@hookspec
def discover_targets(config: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """List the practitioners and structures this connector's upstream serves.

    Called by ``sas-portal bindings discover [--connector NAME]`` (never at
    search time), once per connector, under the connector's deadline. What it
    returns is stored as bindings of the source named ``connector_info().name``,
    through the same checks and report as ``sas-portal bindings import``: an
    unknown practitioner or a malformed id refuses that line only.

    :param config: this connector's configuration section.
    :return: ``(national id, upstream id)`` pairs — the prefixed national id
        (``8``+RPPS, ``0``+ADELI, ``1``+FINESS, ``3``+SIRET) and the id the
        upstream knows it by (``""`` when it uses the national id); ``None``
        when the upstream cannot list whom it serves (bind them by file or on
        the administration page instead).
    :raises portal.errors.ConnectorError: on upstream failure (reported, nothing stored).
    """


@hookspec
def fetch_source_slots(
    source: str, start: datetime, end: datetime, config: Mapping[str, Any]
) -> list[Slot] | PartialSlots | None:
    """Return every free slot one source publishes within ``[start, end]``.

    For bulk publishers (a manifest plus files, e.g. SMART Scheduling Links)
    whose data set is downloaded whole: the portal calls this once per source
    and refresh instead of ``fetch_slots`` once per batch of 25 targets, and
    keeps the slots of the targets bound to ``source`` (by ``Slot.practitioner``
    or ``Slot.structure``); the others are dropped. Called concurrently with
    the other connectors, under the source's deadline.

    :param source: the source being refreshed: the connector's name, or
        ``name:sub-source`` when its configuration lists several (``editors``).
    :param start: start of the window, timezone-aware.
    :param end: end of the window, timezone-aware.
    :param config: this connector's configuration section.
    :return: the slots (a list), or a :class:`portal.domain.PartialSlots`
        whose ``failed`` maps national ids the publication could not cover to
        a reason (their last-known slots are kept); ``None`` when this source
        is not published in bulk — the portal then calls ``fetch_slots`` per
        batch for it (in the same refresh, after this answer).
    :raises portal.errors.ConnectorError: on upstream failure: every target of
        the source keeps its last-known slots, reported as failed.
    """
