"""A named lease in the database: at most one holder at a time, until it expires.

Used so that exactly one scheduler process runs the jobs, even if a second one
is started by mistake (two APScheduler instances would run every job twice).
Portable: a conditional UPDATE, or an INSERT that loses on the primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import Lease


def acquire(
    session: Session, name: str, holder: str, ttl_s: float, *, now: datetime | None = None
) -> bool:
    """Take or renew the lease ``name`` for ``holder``; True when ``holder`` now holds it."""
    now = now or datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_s)
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
            .values(holder=holder, expires_at=expires)
        ),
    )
    if result.rowcount == 1:
        session.commit()
        return True
    session.rollback()
    if session.get(Lease, name) is not None:
        return False  # somebody else holds it and it has not expired
    try:
        session.add(Lease(name=name, holder=holder, expires_at=expires))
        session.commit()
    except IntegrityError:  # another process inserted it first
        session.rollback()
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up (on clean shutdown) so a successor need not wait for expiry."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
    )
    session.commit()
