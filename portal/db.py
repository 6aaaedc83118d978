"""Engine and sessions: one engine per app, one session per request or command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

EXTENSION_KEY = "sas_portal.db"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; SQLite connections get foreign keys on and WAL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo)
        event.listen(engine, "connect", _on_sqlite_connect)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            # the instance folder is created on the first connection, not when the app is built
            folder = Path(database).parent
            event.listen(engine, "do_connect", lambda *_: folder.mkdir(parents=True, exist_ok=True))
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], echo=bool(app.config["DATABASE_ECHO"]))
    factory = sessionmaker(engine, expire_on_commit=False)
    app.extensions[EXTENSION_KEY] = (engine, factory)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    return current_app.extensions[EXTENSION_KEY][0]


def session() -> Session:
    """The session of the current request/command (closed at teardown)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[EXTENSION_KEY][1]()
    return g.db_session


def session_factory() -> sessionmaker[Session]:
    """The app's session factory, for threads that outlive the request (no app context)."""
    return current_app.extensions[EXTENSION_KEY][1]


@contextmanager
def new_session() -> Iterator[Session]:
    """A separate session, for worker threads and jobs."""
    with current_app.extensions[EXTENSION_KEY][1]() as s:
        yield s


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


def ping() -> bool:
    """True when the database answers."""
    try:
        with engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
