"""The append-only audit trail: who did what, when (never patient identity)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from portal.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    ip: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Add one audit event to the session (the caller commits with its own change)."""
    event = AuditEvent(
        action=action,
        actor=actor,
        target=target,
        details=dict(details or {}),
        ip=ip,
        request_id=request_id,
    )
    session.add(event)
    return event
