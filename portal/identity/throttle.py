"""Login throttling in ``LoginThrottle`` rows, shared by every gunicorn worker.

Generic over keys: :mod:`portal.identity.passwords` and
:mod:`portal.identity.second_factor` name them (``account:<sha256>``,
``ip:<address>``, ``totp-step:<user id>``). After ``limit`` failures within
the window a key is blocked for ``block_s``; the counters reset when the
window or the block is over. Row updates lock the row (``FOR UPDATE`` on
PostgreSQL; SQLite serialises writers), so concurrent failures all count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.models import LoginThrottle


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    max_failures: int = 5  # per account
    window_s: int = 900
    block_s: int = 900
    ip_max_failures: int = 5  # per client address (a NAT-ed hospital may want more)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ThrottlePolicy:
        """From ``LOGIN_*``; ``LOGIN_MAX_FAILURES_PER_IP`` defaults to ``LOGIN_MAX_FAILURES``."""
        max_failures = int(config["LOGIN_MAX_FAILURES"])
        return cls(
            max_failures=max_failures,
            window_s=int(config["LOGIN_FAILURE_WINDOW_S"]),
            block_s=int(config["LOGIN_BLOCK_S"]),
            ip_max_failures=int(config.get("LOGIN_MAX_FAILURES_PER_IP") or max_failures),
        )


def is_blocked(session: Session, keys: Iterable[str], now: datetime) -> bool:
    """Whether any of ``keys`` is blocked at ``now``."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(keys))))
    return any(row.blocked_until is not None and row.blocked_until > now for row in rows)


def _row_for_update(session: Session, key: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = LoginThrottle(key=key, window_start=now, failures=0, blocked_until=None)
            session.add(row)
        return row
    except IntegrityError:  # another worker created it meanwhile
        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
        assert row is not None
        return row


def count_failure(
    session: Session, key: str, limit: int, policy: ThrottlePolicy, now: datetime
) -> bool:
    """Count one failure against ``key``; True when this failure blocks it."""
    row = _row_for_update(session, key, now)
    window_over = row.window_start + timedelta(seconds=policy.window_s) <= now
    block_over = row.blocked_until is not None and row.blocked_until <= now
    if window_over or block_over:
        row.window_start, row.failures, row.blocked_until = now, 0, None
    row.failures += 1
    if row.failures >= limit and row.blocked_until is None:
        row.blocked_until = now + timedelta(seconds=policy.block_s)
        return True
    return False


def clear(session: Session, key: str) -> None:
    """Forget ``key``'s failures and block."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def purge(session: Session, policy: ThrottlePolicy, prefixes: Iterable[str], now: datetime) -> int:
    """Delete rows under ``prefixes`` whose window and block are both over (housekeeping)."""
    stale = now - timedelta(seconds=policy.window_s)
    rows = session.scalars(
        select(LoginThrottle).where(
            or_(*(LoginThrottle.key.startswith(p, autoescape=True) for p in prefixes)),
            LoginThrottle.window_start < stale,
        )
    ).all()
    count = 0
    for row in rows:
        if row.blocked_until is None or row.blocked_until <= now:
            session.delete(row)
            count += 1
    return count


def advance(session: Session, key: str, value: int, now: datetime) -> bool:
    """Raise ``key``'s counter to ``value``; False when it was already ``value`` or more.

    One conditional UPDATE (or INSERT), so two workers cannot both succeed:
    used for "this TOTP step was accepted already".
    """
    raised = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.failures < value)
        .values(failures=value, window_start=now)
        .execution_options(synchronize_session=False)
    )
    if raised.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.scalar(select(LoginThrottle.key).where(LoginThrottle.key == key)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(LoginThrottle(key=key, window_start=now, failures=value))
        return True
    except IntegrityError:
        return False
