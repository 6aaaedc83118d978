"""Times on the pages in the reader's local time.

Times are stored in UTC (SQLite even drops the offset: a naive time is UTC). A page
shows them in the portal's zone (``TIMEZONE``, Europe/Paris), or in a department's
own zone overseas when every territory of the user lies in that one department
(a regulator or administrator of La Réunion reads Réunion time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g

from portal import db
from portal.directory import territories
from portal.slots import calendar
from portal.web import session as auth_session

__all__ = ["init_app", "local_time", "reader_zone"]


def reader_zone() -> ZoneInfo:
    """The zone the current user reads times in (computed once per request)."""
    zone = g.get("reader_zone")
    if zone is None:
        name = str(current_app.config.get("TIMEZONE") or calendar.DEFAULT_TIMEZONE)
        principal = auth_session.current()
        codes = principal.territories() if principal else set()
        if codes:
            departments = territories.departments_of(db.session(), codes)
            if len(departments) == 1:
                own = calendar.timezone_of(next(iter(departments)))
                name = own if own != calendar.DEFAULT_TIMEZONE else name
        zone = g.reader_zone = ZoneInfo(name)
    return zone


def local_time(at: datetime | None, fmt: str = "%d/%m/%Y %H:%M", empty: str = "—") -> str:
    """``at`` (UTC, aware or naive) in the reader's zone; ``empty`` for no time."""
    if at is None:
        return empty
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(reader_zone()).strftime(fmt)


def init_app(app: Flask) -> None:
    """The ``local_time`` filter and the ``reader_zone`` global, for every template."""
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["reader_zone"] = reader_zone
