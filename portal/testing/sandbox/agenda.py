"""Agenda generation: the seeded slots of one key (national id, site) for one day
(:func:`generate_day`), and :class:`AgendaStore`, the sandbox server's cache of them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from portal.testing.sandbox.resources import fhir_id
from portal.testing.sandbox.search import SearchParams

Flow = Literal["ps", "cpts", "sos"]


@dataclass(frozen=True, slots=True)
class AgendaSlot:
    """One generated slot. ``modalities`` are ActCode, ``kinds`` TRE_R314 codes."""

    id: str
    key: str
    start: datetime
    end: datetime
    free: bool
    modalities: tuple[str, ...]
    kinds: tuple[str, ...]
    walk_in: bool
    reasons: tuple[str, ...]


_KINDS: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "ps": (
        (("PUBLIC",), 35),
        (("PUBLIC", "PRO"), 20),
        (("PRO",), 10),
        (("SNP",), 20),
        (("PUBLIC", "PRO", "SNP"), 10),
        (("PRO", "SNP"), 5),
    ),
    "cpts": (
        (("CPTS",), 30),
        (("PUBLIC", "CPTS"), 30),
        (("SNP", "CPTS"), 20),
        (("PUBLIC", "PRO", "CPTS"), 20),
    ),
    "sos": ((("PUBLIC",), 40), (("PUBLIC", "SNP"), 35), (("SNP",), 25)),
}
_MODALITIES: dict[str, tuple[tuple[tuple[str, ...], int], ...]] = {
    "ps": ((("AMB",), 75), (("VR",), 10), (("AMB", "VR"), 8), (("HH",), 7)),
    "cpts": ((("AMB",), 75), (("VR",), 10), (("AMB", "VR"), 8), (("HH",), 7)),
    "sos": ((("AMB",), 80), (("AMB", "VR"), 10), (("VR",), 10)),
}
REASONS = (
    "Visite de contrôle",
    "Consultation non programmée",
    "Renouvellement d'ordonnance",
    "Certificat médical",
    "Première consultation",
)


def _pick(rng: random.Random, weighted: Sequence[tuple[tuple[str, ...], int]]) -> tuple[str, ...]:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def default_periods(rng: random.Random, day: date) -> list[tuple[time, time]]:
    """Working periods of a practitioner: weekdays 08:00–19:00 with a lunch break,
    Saturday morning sometimes, Sunday rarely."""
    weekday = day.weekday()
    if weekday == 6:
        return [(time(9), time(12))] if rng.random() < 0.15 else []
    if weekday == 5:
        return [(time(9), time(12, 30))] if rng.random() < 0.6 else []
    periods = [(rng.choice((time(8), time(8, 30), time(9))), rng.choice((time(12), time(12, 30))))]
    if rng.random() < 0.9:
        periods.append(
            (rng.choice((time(13, 30), time(14))), rng.choice((time(18), time(18, 30), time(19))))
        )
    return periods


def generate_day(
    seed: int,
    key: str,
    day: date,
    *,
    flow: Flow = "ps",
    tz: str = "Europe/Paris",
    periods: Sequence[tuple[time, time]] | None = None,
    free_ratio: float = 0.3,
    empty_ratio: float = 0.1,
) -> list[AgendaSlot]:
    """The slots (free and busy) of ``key`` on ``day``, deterministic for (seed, key, day).

    ``periods`` are local opening periods (default: :func:`default_periods`);
    slots last 10–20 minutes; about ``empty_ratio`` of the days have no slot at all.
    """
    rng = random.Random(f"{seed}:{key}:{day.isoformat()}")
    if rng.random() < empty_ratio:
        return []
    if periods is None:
        periods = default_periods(rng, day)
    zone = ZoneInfo(tz)
    step = timedelta(minutes=rng.choice((10, 15, 15, 20)))
    prefix = f"{fhir_id(key)}-{day:%Y%m%d}-"
    kinds, modalities = _KINDS[flow], _MODALITIES[flow]
    slots: list[AgendaSlot] = []
    for opening, closing in periods:
        current = datetime.combine(day, opening, tzinfo=zone)
        stop = datetime.combine(day, closing, tzinfo=zone)
        while current + step <= stop:
            draw = rng.random()
            reasons: tuple[str, ...] = ()
            if draw < 0.25:
                reasons = (rng.choice(REASONS),)
            elif draw < 0.3:
                reasons = tuple(rng.sample(REASONS, 2))
            slots.append(
                AgendaSlot(
                    id=prefix + f"{current:%H%M}",
                    key=key,
                    start=current,
                    end=current + step,
                    free=rng.random() < free_ratio,
                    modalities=_pick(rng, modalities),
                    kinds=_pick(rng, kinds),
                    walk_in=rng.random() < 0.1,
                    reasons=reasons,
                )
            )
            current += step
    return slots


class AgendaStore:
    """The agendas of a sandbox server, generated on demand and cached per (key, day)."""

    seed: int
    flow: Flow
    _days: dict[tuple[str, date], list[AgendaSlot]]
    _slots: dict[str, AgendaSlot]

    def timezone_for(self, key: str) -> str:
        return "Europe/Paris"

    def agenda_day(self, key: str, day: date) -> list[AgendaSlot]:
        """The slots of ``key`` on ``day`` (override to pass opening hours)."""
        return generate_day(self.seed, key, day, flow=self.flow, tz=self.timezone_for(key))

    def day_slots(self, key: str, day: date) -> list[AgendaSlot]:
        cached = self._days.get((key, day))
        if cached is None:
            if len(self._days) > 50_000:  # long-running demo: bound the memory
                self._days.clear()
                self._slots.clear()
            cached = self.agenda_day(key, day)
            self._days[(key, day)] = cached
            for slot in cached:
                self._slots[slot.id] = slot
        return cached

    def matching(self, key: str, params: SearchParams) -> list[AgendaSlot]:
        return [
            slot
            for day in params.days(self.timezone_for(key))
            for slot in self.day_slots(key, day)
            if params.wants(slot.free) and params.contains(slot.start)
        ]

    def find_slot(self, slot_id: str) -> AgendaSlot | None:
        slot = self._slots.get(slot_id)
        if slot is None:  # e.g. the sandbox restarted since the search: regenerate
            key = slot_id.rpartition("-")[0]
            key, _, day_text = key.rpartition("-")
            try:
                day = datetime.strptime(day_text, "%Y%m%d").date()
            except ValueError:
                return None
            slot = next((s for s in self.day_slots(key, day) if s.id == slot_id), None)
        return slot
