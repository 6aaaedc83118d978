"""Shared fixtures: the app on a real SQLite file, and on a real PostgreSQL server
for the SQL-sensitive tests.

Database-backed tests (``app``, ``database_url``) run on SQLite; those marked
``@pytest.mark.sql`` (queries, migrations, concurrency, capacity: where the two
databases may differ) run once per backend, ids ``[sqlite]`` and
``[postgresql]``. The schema is migrated once per backend and per xdist worker
into a template (a SQLite file copied per test, a PostgreSQL template database
cloned per test), so every test starts from a fresh, migrated database in
milliseconds. Each xdist worker starts its own throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pluggy
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from portal import create_app, migrate, plugins
from portal.db import make_engine
from portal.devtools.browser import launch_kwargs
from portal.devtools.pgcluster import PgCluster, find_pg_bin, postgres_required


def _backends() -> list[str]:
    if find_pg_bin() is not None or postgres_required():
        return ["sqlite", "postgresql"]
    return ["sqlite"]


BACKENDS = _backends()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """No collection while source is parsed: a finalizer run in the middle of the AST
    conversion (an engine whose PostgreSQL database was dropped, logging its reset
    failure) unbalances 3.11.7's AST recursion counter ("recursion depth mismatch")."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _serialise_compile() -> None:
    """CPython 3.11 < 3.11.9 can raise ``SystemError: AST constructor recursion depth
    mismatch`` when two threads compile source at once (werkzeug compiles URL rules with
    ``ast.parse``, Jinja compiles templates, dataclasses ``exec`` their methods): the
    suite runs live servers and connector threads beside the main thread, so parsing
    source is serialised in tests."""
    import builtins
    import threading

    if getattr(builtins.compile, "_sas_portal_locked", False):
        return
    lock = threading.RLock()

    def locked(original: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock, _no_gc():
                return original(*args, **kwargs)

        call._sas_portal_locked = True  # type: ignore[attr-defined]
        return call

    # exec/eval of source text parse it too (dataclasses and namedtuple build their
    # methods that way, e.g. when a module is first imported from a worker thread)
    def locked_run(original: Any) -> Any:
        def call(source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> Any:
            if globals is None:  # as the builtin would: the caller's namespaces
                frame = sys._getframe(1)
                globals, locals = frame.f_globals, frame.f_locals if locals is None else locals
            if not isinstance(source, str | bytes):  # a code object: nothing to parse
                return original(source, globals, locals, **kwargs)  # (module bodies on import)
            with lock, _no_gc():
                return original(source, globals, locals, **kwargs)

        call._sas_portal_locked = True  # type: ignore[attr-defined]
        return call

    builtins.compile = locked(builtins.compile)
    builtins.exec = locked_run(builtins.exec)
    builtins.eval = locked_run(builtins.eval)


_serialise_compile()
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A throwaway PostgreSQL cluster for the whole run (fails if binaries are missing)."""
    with PgCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    name = "sas_template"
    pg_cluster.create_database(name)
    engine = make_engine(pg_cluster.url(name))
    migrate.upgrade(engine)
    engine.dispose()
    return name


#: test modules (name prefixes) that are SQL-sensitive as a whole: they get ``pytest.mark.sql``
#: (a single test elsewhere opts in with ``@pytest.mark.sql``)
SQL_MODULES: tuple[str, ...] = (
    "test_migrations",
    "test_concurrency",
    "test_slots_",
    "test_search_service",
    "test_directory",
    "test_audit",
    "test_auth_local",  # throttle counters and TOTP steps: conditional UPDATEs
    "test_jobs",  # the scheduler's lease row
    "test_bindings",
)


def _sql_sensitive(module: str) -> bool:
    return module.rpartition(".")[2].startswith(SQL_MODULES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests of :data:`SQL_MODULES` ``sql`` (so ``-m sql`` selects them)."""
    for item in items:
        if item.module is not None and _sql_sensitive(item.module.__name__):
            item.add_marker(pytest.mark.sql)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database_url`` (hence ``app``): SQLite, plus PostgreSQL for SQL-sensitive tests."""
    if "database_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("sql") is not None or _sql_sensitive(
            metafunc.module.__name__
        )
        metafunc.parametrize("database_url", BACKENDS if both else ["sqlite"], indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: SQLite, or each backend for ``@pytest.mark.sql`` tests."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "sas-portal.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"sas_test_{os.getpid()}_{next(_counter)}"
    url = cluster.create_database(name, template=request.getfixturevalue("pg_template"))
    yield url
    cluster.drop_database(name)


def make_test_app(
    database_url: str,
    instance: Path,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
    **overrides: Any,
) -> Flask:
    """The app on ``database_url``; ``plugin_manager`` None loads the installed connectors."""
    config: Mapping[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "WTF_CSRF_ENABLED": False,
        **overrides,
    }
    os.environ["SAS_PORTAL_INSTANCE_PATH"] = str(instance)
    try:
        return create_app(config, plugin_manager=plugin_manager)
    finally:
        del os.environ["SAS_PORTAL_INSTANCE_PATH"]


def dispose_engine(app: Flask) -> None:
    """Close the app's database connections (a dropped PostgreSQL database needs it)."""
    from portal.db import EXTENSION_KEY

    app.extensions[EXTENSION_KEY][0].dispose()


@pytest.fixture
def app_plugin_manager(request: pytest.FixtureRequest) -> pluggy.PluginManager | None:
    """The plugin manager that ``app`` is built with (``create_app(plugin_manager=...)``).

    ``None`` (the default): the installed connectors, loaded from their entry points as
    in production. A test marked ``@pytest.mark.inline_plugins`` gets the fresh, empty
    :func:`plugin_manager` instead and adds its own with :func:`register_plugin`; a
    module whose every test needs that overrides this fixture.
    """
    if request.node.get_closest_marker("inline_plugins") is not None:
        return request.getfixturevalue("plugin_manager")  # type: ignore[no-any-return]
    return None


@pytest.fixture
def app(
    database_url: str, tmp_path: Path, app_plugin_manager: pluggy.PluginManager | None
) -> Iterator[Flask]:
    app = make_test_app(database_url, tmp_path / "instance", plugin_manager=app_plugin_manager)
    yield app
    dispose_engine(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the hookspecs and no plugin loaded."""
    return plugins.make_plugin_manager(load_entry_points=False)


@pytest.fixture
def register_plugin(plugin_manager: pluggy.PluginManager):  # type: ignore[no-untyped-def]
    """Register an inline plugin (a module-like object or class) for one test."""

    def register(plugin: object, name: str | None = None) -> object:
        plugin_manager.register(plugin, name=name)
        plugin_manager.check_pending()
        return plugin

    return register


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright drives Debian's Chromium, never a downloaded browser."""
    return {**browser_type_launch_args, **launch_kwargs()}


def _client_with(app: Flask, *roles: Any) -> FlaskClient:
    from portal import db
    from tests.factories import add_user, login

    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = add_user(session, *roles)
        session.commit()
        login(client, user)
    return client


@pytest.fixture
def regulator_client(app: Flask) -> FlaskClient:
    """A client logged in as a regulator of SAS-47."""
    return _client_with(app, ("regulateur", {"territory_code": None}))


@pytest.fixture
def admin_client(app: Flask) -> FlaskClient:
    """A client logged in as a national administrator."""
    return _client_with(app, "administrateur")


# --- in a real browser ---------------------------------------------------------------

#: Records CSP violations from the first byte on (an init script is not subject to the CSP).
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def is_csp_or_error(message: str) -> bool:
    """A console message that reports a CSP violation or an error."""
    return (
        "Refused to" in message
        or "Content Security Policy" in message
        or message.startswith(("error", "pageerror"))
    )


@pytest.fixture
def live_app_csrf(tmp_path: Path) -> Iterator[Flask]:
    """The app on a SQLite file (served over plain HTTP: no Secure cookie), CSRF on."""
    from portal import db
    from tests.factories import add_practitioner

    app = make_test_app(
        f"sqlite:///{tmp_path / 'browser.sqlite3'}",
        tmp_path / "instance",
        SESSION_COOKIE_SECURE=False,
        WTF_CSRF_ENABLED=True,
    )
    with app.app_context():
        migrate.upgrade(db.engine())
        s = db.session()
        add_practitioner(s, family_name="Garonne", dlat=0.01, sas_participation=True)
        add_practitioner(s, family_name="Pruneau", dlat=0.05)
        s.commit()
    yield app
    dispose_engine(app)
