"""Domain types that cross the plugin boundary.

These frozen dataclasses are the only objects connectors receive from and
return to the portal: no ORM object ever reaches a plugin. Times are always
timezone-aware.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

ConnectorKind = Literal["editor", "structure", "agenda"]
Capability = Literal["slots", "booking_redirect", "booking_direct", "accounts"]
Modality = Literal["cabinet", "teleconsultation", "domicile"]
Visibility = Literal["public", "pro", "sas", "cpts"]

#: Upper bound of national ids per upstream request (national rule).
MAX_IDS_PER_REQUEST = 25
#: Default per-connector deadline in seconds (national rule: late answers are ignored).
DEFAULT_DEADLINE_S = 7.0


def source_plugin(source: str) -> str:
    """The connector (plugin) owning a source: ``doctolib_like:editeur-a`` → ``doctolib_like``.

    A source is ``<connector>`` or ``<connector>:<sub-source>`` (one editor, one
    association…); this is the one place that syntax is parsed.
    """
    return source.partition(":")[0]


def source_detail(source: str) -> str:
    """The sub-source of a source: ``doctolib_like:editeur-a`` → ``editeur-a``; ``""`` if none."""
    return source.partition(":")[2]


def owns_source(connector: str, source: str) -> bool:
    """Whether ``source`` belongs to the connector named ``connector``."""
    return source_plugin(source) == connector


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class ConnectorInfo:
    """What a connector says about itself (hook ``connector_info``).

    ``name`` is the connector's key in ``CONNECTORS``, its entry-point name and the
    prefix of ``Slot.source``; ``label`` is what administrators read; ``kind`` is
    ``editor``, ``structure`` or ``agenda``; ``capabilities`` must match the hooks
    implemented (checked at load). ``refresh_interval_s``: how often, in seconds, the
    scheduler refreshes each source of this connector for all its bound targets
    (one job per source; searches also refresh visible cards live, and a target
    fetched less than ``SLOT_MIN_AGE_S`` ago is read from the cache).
    """

    name: str
    label: str
    kind: ConnectorKind
    capabilities: frozenset[Capability] = frozenset({"slots"})
    refresh_interval_s: int = 300
    version: str = "0"
    #: The contract version the connector was written for (``"1.1"``); the portal
    #: refuses to load it when its own ``hookspecs.CONTRACT_VERSION`` is of another
    #: major version or an older minor one. ``None``: any 1.x.
    requires_contract: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address, as shown on a result card."""

    line: str = ""
    postal_code: str = ""
    city: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"line": self.line, "postal_code": self.postal_code, "city": self.city}


@dataclass(frozen=True, slots=True)
class SlotTarget:
    """One practitioner or structure the portal wants slots for.

    ``national_id`` is prefixed (``8``+RPPS, ``0``+ADELI, ``1``+FINESS, ``3``+SIRET);
    ``upstream_ids`` holds whatever ids the connector binding recorded for it.
    """

    national_id: str
    kind: Literal["practitioner", "structure"] = "practitioner"
    source: str = ""
    upstream_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SlotQuery:
    """A request for the free slots of some targets within a time window."""

    targets: tuple[SlotTarget, ...]
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError("end must not be before start")

    def for_source(self, source_prefix: str) -> tuple[SlotTarget, ...]:
        """The targets bound to a source (``doctolib_like`` matches ``doctolib_like:x``)."""
        return tuple(
            t
            for t in self.targets
            if t.source == source_prefix or source_plugin(t.source) == source_prefix
        )


@dataclass(frozen=True, slots=True)
class Slot:
    """The normalised slot every source ends up as (``docs/architecture.md``, "A slot").

    ``source`` is the target's source (``name`` or ``name:sub-source``); ``id`` is
    unique within it; ``practitioner`` / ``structure`` is the target's prefixed
    national id; ``start`` / ``end`` are timezone-aware.

    ``visibility`` says who may be shown the slot (national TRE_R314 codes):
    ``public`` — anyone, the editor's public booking site included; ``pro`` —
    health professionals (e.g. a GP booking for a patient); ``sas`` — the SAS
    regulators of this portal (national code ``SNP``); ``cpts`` — the members of
    the practitioner's CPTS. Regulators see all four kinds by default (the
    search's "slot kinds" filter narrows them), except the ``public`` / ``pro``
    slots of a practitioner who refuses that display.

    ``bookable``: ``True`` when the slot is an appointment to book
    (``appointmentType`` ROUTINE); ``False`` for a walk-in period (WALKIN): shown
    as "sans rendez-vous" for orientation, never booked (``book_slot`` refuses it).
    """

    source: str
    id: str
    start: datetime
    end: datetime
    practitioner: str | None = None
    structure: str | None = None
    modalities: tuple[Modality, ...] = ("cabinet",)
    visibility: tuple[Visibility, ...] = ("sas",)
    bookable: bool = True
    specialties: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    booking_url: str | None = None
    capacity: int = 1
    address: Address | None = None
    cpts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)

    def as_json(self) -> dict[str, Any]:
        """The JSON form printed by ``sas-portal normalize``."""
        return {
            "source": self.source,
            "id": self.id,
            "practitioner": self.practitioner,
            "structure": self.structure,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "modalities": list(self.modalities),
            "visibility": list(self.visibility),
            "bookable": self.bookable,
            "specialties": list(self.specialties),
            "reasons": list(self.reasons),
            "booking_url": self.booking_url,
            "capacity": self.capacity,
            "address": self.address.as_dict() if self.address else None,
            "cpts": list(self.cpts),
        }


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """Who books, from where. Never any patient identity."""

    regulator_id: str
    origin: str | None = None
    case_reference: str | None = None


@dataclass(frozen=True, slots=True)
class Booking:
    """Outcome of ``book_slot``: either a redirect or a confirmed booking."""

    source: str
    slot_id: str
    status: Literal["redirect", "confirmed"]
    redirect_url: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class RegulatorAccount:
    """A regulator account pushed to editors (INT_R02)."""

    identifier_system: str
    identifier_value: str
    family_name: str
    given_name: str
    email: str | None = None
    active: bool = True


def replace(obj: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` re-exported for plugin authors."""
    return dataclasses.replace(obj, **changes)


def slot_from_json(data: Mapping[str, Any]) -> Slot:
    """Inverse of ``Slot.as_json()``."""
    address = data.get("address")
    return Slot(
        source=data["source"],
        id=data["id"],
        practitioner=data.get("practitioner"),
        structure=data.get("structure"),
        start=datetime.fromisoformat(data["start"]),
        end=datetime.fromisoformat(data["end"]),
        modalities=tuple(data.get("modalities") or ()),
        visibility=tuple(data.get("visibility") or ()),
        bookable=bool(data.get("bookable", True)),
        specialties=tuple(data.get("specialties") or ()),
        reasons=tuple(data.get("reasons") or ()),
        booking_url=data.get("booking_url"),
        capacity=int(data.get("capacity") or 1),
        address=Address(**address) if address else None,
        cpts=tuple(data.get("cpts") or ()),
    )


def slot_window(
    now: datetime | None = None, *, days: int = 3, tz: str = "Europe/Paris"
) -> tuple[datetime, datetime]:
    """From now to the end of the ``days``-th local day (today, tomorrow, the day after)."""
    now = now or datetime.now(UTC)
    local = now.astimezone(ZoneInfo(tz))
    end_local = (local + timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now, end_local.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class PartialSlots:
    """An answer that covers only some targets: the slots obtained and who failed.

    Returned instead of a plain list by ``fetch_slots`` or ``fetch_source_slots``
    when some targets could not be fetched (one practitioner's calendar is
    unreachable, one file of a bulk publication is missing). The portal stores
    ``slots`` for the targets that succeeded and keeps the last-known slots of
    the ``failed`` ones, reported as a partial answer of the source, instead of
    failing the whole batch.

    :param slots: the normalised slots of the targets that succeeded.
    :param failed: prefixed national id → a short reason (French, shown to
        administrators), for each target that could not be fetched.
    """

    slots: tuple[Slot, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
