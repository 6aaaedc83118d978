"""One card builder (``portal.search.cards.slot_view``) for the first paint and the live refresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.domain import Slot
from portal.search import cards
from portal.search.filters import SlotFilter
from portal.slots.cache import CachedSlots

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _slot(hours: int, **fields: object) -> Slot:
    start = NOW + timedelta(hours=hours)
    return Slot(  # type: ignore[arg-type]
        source="fake", id=f"s{hours}", practitioner="810001234567",
        start=start, end=start + timedelta(minutes=20), **fields,
    )  # fmt: skip


def test_slot_view_applies_the_filter_refusals_time_zone_and_freshness() -> None:
    found = CachedSlots(
        slots=(
            _slot(2, visibility=("public",)),  # refused by the practitioner
            _slot(3, visibility=("sas",), modalities=("teleconsultation",)),
            _slot(4, visibility=("sas", "public"), modalities=("cabinet",)),
            _slot(26, visibility=("pro",), modalities=("cabinet",)),
        ),
        sources=("fake", "other"),
        fetched_at=NOW - timedelta(minutes=4),
        failing=("other",),
    )
    view = cards.slot_view(
        found, SlotFilter(modalities=("cabinet",)), frozenset({"public"}),
        department="974", now=NOW,
    )  # fmt: skip
    shown = [s.time for day in view.calendar.days for s in day.slots]
    assert shown == ["16:00", "14:00"]  # Réunion time (UTC+4); tomorrow's pro slot too
    assert [len(day.slots) for day in view.calendar.days] == [1, 1, 0]
    assert view.calendar.timezone == "Indian/Reunion" and view.calendar.overseas
    assert view.age == "il y a 4 min"
    assert view.failing == ("Other",) and view.sources == ("Fake", "Other")  # by label

    everything = cards.slot_view(found, SlotFilter(), frozenset(), department=None, now=NOW)
    assert everything.calendar.total == 4 and everything.calendar.timezone == "Europe/Paris"
