"""Slots laid out for a result card: today, tomorrow, the day after, in local time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from portal.domain import Slot
from portal.reference.vocabulary import modality_label

#: Overseas departments do not live on Paris time.
DEPARTMENT_TIMEZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "975": "America/Miquelon",
    "976": "Indian/Mayotte",
    "977": "America/St_Barthelemy",
    "978": "America/Marigot",
}
DEFAULT_TIMEZONE = "Europe/Paris"
DAY_LABELS = ("Aujourd'hui", "Demain", "Après-demain")
WEEKDAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


def timezone_of(department: str | None) -> str:
    return DEPARTMENT_TIMEZONES.get(department or "", DEFAULT_TIMEZONE)


@dataclass(frozen=True, slots=True)
class SlotView:
    time: str  # "14:30"
    start: datetime
    modalities: tuple[str, ...]
    bookable: bool
    booking_url: str | None
    source: str
    id: str = ""  # the slot's id at its source (the booking link: /creneaux/<source>/<id>)


@dataclass(frozen=True, slots=True)
class DayView:
    label: str  # "Aujourd'hui"
    day: date
    day_label: str  # "mer. 25/11"
    slots: tuple[SlotView, ...]


@dataclass(frozen=True, slots=True)
class CalendarView:
    days: tuple[DayView, ...]
    timezone: str
    overseas: bool
    total: int


def three_days(
    slots: Iterable[Slot], *, department: str | None, now: datetime | None = None
) -> CalendarView:
    """Group future slots by local day for the three days shown on a card."""
    tzname = timezone_of(department)
    tz = ZoneInfo(tzname)
    now = now or datetime.now(UTC)
    today = now.astimezone(tz).date()
    days: list[list[SlotView]] = [[] for _ in DAY_LABELS]
    for slot in sorted(slots, key=lambda s: s.start):
        if slot.end <= now:
            continue
        local = slot.start.astimezone(tz)
        offset = (local.date() - today).days
        if 0 <= offset < len(DAY_LABELS):
            days[offset].append(
                SlotView(
                    time=f"{local:%H:%M}",
                    start=slot.start,
                    modalities=slot.modalities,
                    bookable=slot.bookable,
                    booking_url=slot.booking_url,
                    source=slot.source,
                    id=slot.id,
                )
            )
    views = tuple(
        DayView(
            label=label,
            day=(d := today + timedelta(days=i)),
            day_label=f"{WEEKDAYS[d.weekday()]} {d:%d/%m}",
            slots=tuple(day),
        )
        for i, (label, day) in enumerate(zip(DAY_LABELS, days, strict=True))
    )
    return CalendarView(
        days=views,
        timezone=tzname,
        overseas=tzname != DEFAULT_TIMEZONE,
        total=sum(len(d.slots) for d in views),
    )


def age_label(fetched_at: datetime | None, now: datetime | None = None) -> str:
    """``"à l'instant"``, ``"il y a 4 min"``, ``"il y a 2 h"``; ``"jamais"`` when never fetched."""
    if fetched_at is None:
        return "jamais"
    seconds = ((now or datetime.now(UTC)) - fetched_at).total_seconds()
    if seconds < 60:
        return "à l'instant"
    if seconds < 3600:
        return f"il y a {int(seconds // 60)} min"
    if seconds < 86400:
        return f"il y a {int(seconds // 3600)} h"
    return f"il y a {int(seconds // 86400)} j"


def modality_labels(modalities: Sequence[str]) -> str:
    return ", ".join(modality_label(m) for m in modalities)
