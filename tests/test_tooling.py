"""The test tooling itself: throwaway PostgreSQL cluster, live server, Chromium.

Nothing here skips: a missing PostgreSQL or Chromium fails with an install hint.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from portal.devtools.browser import (
    CHROMIUM_PATH,
    LAUNCH_ARGS,
    LiveServer,
    chromium_available,
    launch_kwargs,
)
from portal.devtools.pgcluster import (
    PgCluster,
    PgClusterError,
    find_pg_bin,
    postgres_required,
    require_pg_bin,
)


def _pg_bin() -> Path:
    try:
        return require_pg_bin()
    except PgClusterError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def pg():
    _pg_bin()
    with PgCluster() as cluster:
        yield cluster


# --------------------------------------------------------------------------- PostgreSQL


def test_find_pg_bin_finds_the_server_programs():
    bindir = _pg_bin()
    assert find_pg_bin() == bindir
    for name in ("initdb", "pg_ctl", "postgres"):
        assert os.access(bindir / name, os.X_OK), name


def test_find_pg_bin_honours_the_override(monkeypatch, tmp_path):
    bindir = _pg_bin()
    monkeypatch.setenv("SAS_PORTAL_PG_BIN", str(bindir))
    assert find_pg_bin() == bindir
    # an override without the programs is ignored, not trusted
    monkeypatch.setenv("SAS_PORTAL_PG_BIN", str(tmp_path))
    assert find_pg_bin() == bindir


@pytest.mark.postgres
def test_cluster_serves_a_new_database(pg):
    assert pg.running
    assert pg.startup_seconds is not None and pg.startup_seconds < 30
    url = pg.create_database("tooling_check")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/tooling_check"
    assert pg.url("tooling_check") == url

    with psycopg.connect(f"host=127.0.0.1 port={pg.port} user=postgres dbname=tooling_check") as c:
        assert c.execute("select 1").fetchone() == (1,)
        assert c.execute("select current_database()").fetchone() == ("tooling_check",)
        assert c.execute("show server_encoding").fetchone() == ("UTF8",)
        assert c.execute("show fsync").fetchone() == ("off",)


@pytest.mark.postgres
def test_cluster_listens_on_loopback_only_with_a_private_socket(pg):
    with pg.connect() as conn:
        assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("show unix_socket_directories").fetchone() == (str(pg.socket_dir),)
    assert any(p.name.startswith(".s.PGSQL.") for p in pg.socket_dir.iterdir())


@pytest.mark.postgres
def test_databases_clone_from_a_template_and_drop(pg):
    pg.create_database("tooling_tmpl")
    with pg.connect("tooling_tmpl") as conn:
        conn.execute("create table t (v text)")
        conn.execute("insert into t values ('Émile')")
    pg.create_database("tooling_clone", template="tooling_tmpl")
    with pg.connect("tooling_clone") as conn:
        assert conn.execute("select upper(v) from t").fetchone() == ("ÉMILE",)
    pg.drop_database("tooling_clone")
    with pg.connect() as conn:
        names = {r[0] for r in conn.execute("select datname from pg_database")}
    assert "tooling_clone" not in names
    assert "tooling_tmpl" in names


@pytest.mark.postgres
def test_stop_removes_everything():
    _pg_bin()
    cluster = PgCluster().start()
    tmpdir, port = cluster.tmpdir, cluster.port
    assert tmpdir is not None and (tmpdir / "data" / "PG_VERSION").is_file()
    cluster.stop()
    assert not tmpdir.exists()
    assert not cluster.running
    with pytest.raises(PgClusterError):
        cluster.url()
    # the port is free again: nothing is left listening
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    cluster.stop()  # idempotent


@pytest.mark.postgres
def test_failed_start_reports_the_server_log_and_cleans_up():
    _pg_bin()
    # pytest's tmp_path lives under a 0700 directory the postgres user cannot reach
    base = Path(tempfile.mkdtemp(prefix="sas-pg-test-"))
    try:
        base.chmod(0o755)
        cluster = PgCluster(settings={"no_such_setting": "1"}, base_dir=base)
        with pytest.raises(PgClusterError) as info:
            cluster.start()
        message = str(info.value)
        assert "pg_ctl start failed" in message
        assert "no_such_setting" in message  # the server log tail is in the error
        assert not cluster.running
        assert list(base.iterdir()) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_postgres_required(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SAS_PORTAL_REQUIRE_POSTGRES", raising=False)
    assert not postgres_required()
    for value in ("true", "1", "TRUE"):
        monkeypatch.setenv("CI", value)
        assert postgres_required()
    monkeypatch.setenv("CI", "false")
    assert not postgres_required()
    monkeypatch.setenv("SAS_PORTAL_REQUIRE_POSTGRES", "1")
    assert postgres_required()


# --------------------------------------------------------------------------- live server


def _hello_app(environ, start_response):
    body = f"bonjour {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body]


def test_live_server_serves_a_wsgi_app():
    with LiveServer(_hello_app) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.running
        response = httpx.get(server.url + "/recherche")
        assert response.status_code == 200
        assert response.text == "bonjour /recherche"
        port = server.port
    assert not server.running
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_live_server_answers_concurrent_requests():
    def slow_app(environ, start_response):
        time.sleep(0.5)
        return _hello_app(environ, start_response)

    with LiveServer(slow_app) as server, ThreadPoolExecutor(max_workers=6) as pool:
        began = time.monotonic()
        responses = list(pool.map(lambda i: httpx.get(f"{server.url}/{i}"), range(6)))
        elapsed = time.monotonic() - began
    assert [r.text for r in responses] == [f"bonjour /{i}" for i in range(6)]
    assert elapsed < 2.5  # six half-second requests served side by side, not in 3 s


def test_live_server_stop_is_idempotent():
    server = LiveServer(_hello_app).start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError):
        _ = server.url


# --------------------------------------------------------------------------- Chromium


def test_launch_kwargs_use_the_system_chromium():
    kwargs = launch_kwargs()
    assert kwargs["executable_path"] == CHROMIUM_PATH == "/usr/bin/chromium"
    assert kwargs["headless"] is True
    assert "--no-sandbox" in kwargs["args"]
    assert "--disable-background-networking" in kwargs["args"]
    kwargs["args"].append("--mutated")
    assert "--mutated" not in LAUNCH_ARGS


@pytest.mark.browser
def test_chromium_loads_a_live_server_page(playwright):
    if not chromium_available():
        pytest.fail(
            f"{CHROMIUM_PATH} is missing: run `make chromium` (never `playwright install`)",
            pytrace=False,
        )
    version = subprocess.run(
        [CHROMIUM_PATH, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    assert "Chromium" in version

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<!doctype html><title>SAS</title><h1 id='t'>R\xc3\xa9gulation</h1>"]

    browser = playwright.chromium.launch(**launch_kwargs())
    try:
        page = browser.new_page()
        page.goto("about:blank")
        assert page.url == "about:blank"
        with LiveServer(app) as server:
            page.goto(server.url + "/")
            assert page.title() == "SAS"
            assert page.text_content("#t") == "Régulation"
    finally:
        browser.close()
