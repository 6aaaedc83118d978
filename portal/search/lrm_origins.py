"""The LRM allow-list (administrators) and the statistics of LRM links.

Creating an origin and enabling/disabling one are audited (``lrm_origin_created``,
``lrm_origin_toggled``). Hit counts come from :class:`~portal.models.LrmHit`, which
:func:`portal.search.lrm.parse_lrm_link` writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.models import LrmHit, LrmOrigin, utcnow
from portal.search.lrm import PARAM_STATUSES, PARAMETERS

__all__ = [
    "STATS_DAYS",
    "OriginCounts",
    "OriginError",
    "OriginRow",
    "create_origin",
    "hit_counts",
    "list_origins",
    "parameter_stats",
    "set_enabled",
]

STATS_DAYS: Final = 30
CODE_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class OriginError(ValueError):
    """A French message for the administrator: the origin cannot be created or changed."""


@dataclass(frozen=True, slots=True)
class OriginCounts:
    """LRM hits of one origin over a period."""

    accepted: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class OriginRow:
    """One line of the origins page: an allowed origin, or an unknown one that knocked."""

    code: str
    label: str
    enabled: bool
    known: bool
    counts: OriginCounts


def hit_counts(
    session: Session, *, days: int = STATS_DAYS, now: datetime | None = None
) -> dict[str, OriginCounts]:
    """Accepted and refused hits per origin over the last ``days`` days (unknown origins too)."""
    since = (now or utcnow()) - timedelta(days=days)
    rows = session.execute(
        select(LrmHit.origin, LrmHit.accepted, func.count())
        .where(LrmHit.at >= since)
        .group_by(LrmHit.origin, LrmHit.accepted)
    )
    accepted: dict[str, int] = {}
    refused: dict[str, int] = {}
    for origin, ok, n in rows:
        (accepted if ok else refused)[origin] = n
    return {
        origin: OriginCounts(accepted.get(origin, 0), refused.get(origin, 0))
        for origin in accepted.keys() | refused.keys()
    }


def list_origins(
    session: Session, *, days: int = STATS_DAYS, now: datetime | None = None
) -> list[OriginRow]:
    """The allow-list by code, then the unknown origins refused over the period."""
    counts = hit_counts(session, days=days, now=now)
    origins = session.scalars(select(LrmOrigin).order_by(LrmOrigin.code)).all()
    rows = [
        OriginRow(o.code, o.label, o.enabled, True, counts.get(o.code, OriginCounts()))
        for o in origins
    ]
    known = {o.code for o in origins}
    rows += [
        OriginRow(code, "", False, False, counts[code]) for code in sorted(counts.keys() - known)
    ]
    return rows


def create_origin(session: Session, code: str, label: str, *, actor: str | None) -> LrmOrigin:
    """Add an enabled origin (committed); :class:`OriginError` if the code is bad or taken."""
    code, label = code.strip(), " ".join(label.split())
    if not CODE_PATTERN.fullmatch(code):
        raise OriginError(
            "Code invalide : 1 à 64 caractères, lettres, chiffres, « . », « _ », « : » ou « - »."
        )
    if len(label) > 200:
        raise OriginError("Libellé trop long (200 caractères au plus).")
    if session.get(LrmOrigin, code) is not None:
        raise OriginError(f"L'origine {code} existe déjà.")
    origin = LrmOrigin(code=code, label=label, enabled=True)
    session.add(origin)
    audit.record(session, "lrm_origin_created", actor=actor, target=code, details={"label": label})
    session.commit()
    return origin


def set_enabled(session: Session, code: str, enabled: bool, *, actor: str | None) -> LrmOrigin:
    """Enable or disable an origin (committed, audited); KeyError if unknown."""
    origin = session.get(LrmOrigin, code)
    if origin is None:
        raise KeyError(code)
    if origin.enabled != enabled:
        origin.enabled = enabled
        audit.record(
            session, "lrm_origin_toggled", actor=actor, target=code, details={"enabled": enabled}
        )
        session.commit()
    return origin


def parameter_stats(
    session: Session, *, days: int = STATS_DAYS, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """For each INT_L01 parameter, how many accepted hits gave it in each form."""
    since = (now or utcnow()) - timedelta(days=days)
    stats = {name: dict.fromkeys(PARAM_STATUSES, 0) for name in PARAMETERS}
    query = select(LrmHit.params).where(LrmHit.at >= since, LrmHit.accepted.is_(True))
    for params in session.scalars(query):
        for name, status in (params or {}).items():
            if name in stats and status in stats[name]:
                stats[name][status] += 1
    return stats
