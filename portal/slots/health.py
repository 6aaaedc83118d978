"""What the administration shows about each slot source: health, breaker, kill switch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import audit
from portal.models import ConnectorBinding, ConnectorRun, ConnectorState
from portal.slots import aggregation as slots
from portal.slots import calendar


@dataclass(frozen=True, slots=True)
class SourceHealth:
    source: str
    bound: int
    killed: bool
    killed_in_config: bool
    breaker_open_until: datetime | None
    consecutive_failures: int
    last_status: str | None
    last_run_at: datetime | None
    last_run_age: str
    last_duration_ms: int | None
    last_slot_count: int | None
    last_error: str | None


def configured_sources(config: Mapping[str, Any]) -> set[str]:
    """Sources named in the connectors' configuration (each editor is a source)."""
    sections = config.get("CONNECTORS", {}) or {}
    sources = set()
    for plugin, section in sections.items():
        editors = (section or {}).get("editors")
        if editors:
            sources |= {f"{plugin}:{name}" for name in editors}
        else:
            sources.add(plugin)
    return sources


def source_health(session: Session, config: Mapping[str, Any]) -> list[SourceHealth]:
    bound: dict[str, int] = {
        source: count
        for source, count in session.execute(
            select(ConnectorBinding.source, func.count()).group_by(ConnectorBinding.source)
        )
    }
    states = {s.source: s for s in session.scalars(select(ConnectorState))}
    latest = (
        select(ConnectorRun.source, func.max(ConnectorRun.id).label("id"))
        .group_by(ConnectorRun.source)
        .subquery()
    )
    runs = {
        r.source: r
        for r in session.scalars(select(ConnectorRun).join(latest, ConnectorRun.id == latest.c.id))
    }
    killed_in_config = set(config.get("KILLED_SOURCES", ()))
    sources = sorted(set(bound) | set(states) | configured_sources(config))
    result = []
    for source in sources:
        state, run = states.get(source), runs.get(source)
        result.append(
            SourceHealth(
                source=source,
                bound=bound.get(source, 0),
                killed=bool(state and state.killed),
                killed_in_config=source in killed_in_config,
                breaker_open_until=state.open_until if state else None,
                consecutive_failures=state.consecutive_failures if state else 0,
                last_status=run.status if run else None,
                last_run_at=run.started_at if run else None,
                last_run_age=calendar.age_label(run.started_at) if run else "jamais",
                last_duration_ms=run.duration_ms if run else None,
                last_slot_count=run.slot_count if run else None,
                last_error=run.error if run else None,
            )
        )
    return result


def switch(
    session: Session,
    source: str,
    killed: bool,
    *,
    actor: str | None,
    ip: str | None = None,
    request_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Turn a source's kill switch on or off, audited (with the administrator's reason)."""
    audit.record(
        session,
        "connector_kill_switch",
        actor=actor,
        target=source,
        details={"killed": killed, **({"reason": reason} if reason else {})},
        ip=ip,
        request_id=request_id,
    )
    slots.set_killed(session, source, killed, actor=actor)

