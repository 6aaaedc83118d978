"""Application factory, configuration precedence, health endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from portal import create_app


def test_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    instance = tmp_path / "inst"
    instance.mkdir()
    (instance / "config.py").write_text(
        "SEARCH_PAGE_SIZE = 11\nCONNECTOR_DEADLINE_S = 3.0\nDEFAULT_SPECIALTY = 'SM40'\n"
    )
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("SAS_PORTAL_CONNECTOR_DEADLINE_S", "4.5")
    monkeypatch.setenv("SAS_PORTAL_SCHEDULER_ENABLED", "true")
    monkeypatch.setenv("SAS_PORTAL_DISABLED_CONNECTORS", "cpts,sos_medecins")
    app = create_app({"DEFAULT_SPECIALTY": "SM54"})
    assert app.instance_path == str(instance.resolve())
    assert app.config["SEARCH_PAGE_SIZE"] == 11  # instance file over defaults
    assert app.config["CONNECTOR_DEADLINE_S"] == 4.5  # environment over instance file
    assert app.config["SCHEDULER_ENABLED"] is True  # JSON-decoded
    assert app.config["DEFAULT_SPECIALTY"] == "SM54"  # test mapping over everything
    assert app.config["DISABLED_CONNECTORS"] == ["cpts", "sos_medecins"]
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance.resolve() / 'sas-portal.sqlite3'}"
    # the secret is generated in the instance folder when serving, not when built
    assert not (instance / "secret_key").exists() and not app.config["SECRET_KEY"]
    app.test_client().get("/healthz")
    assert (instance / "secret_key").read_text().strip() == app.config["SECRET_KEY"]
    assert "INSTANCE_PATH" not in app.config


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setenv("SAS_PORTAL_DATABASE_URL", url)
    assert create_app().config["DATABASE_URL"] == url


def test_healthz(client, app: Flask) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert set(body["connectors"]) >= {"doctolib_like", "sos_medecins", "cpts", "sas_agenda"}
    text = response.get_data(as_text=True)
    assert (
        "postgresql" not in text and "sqlite" not in text and app.config["SECRET_KEY"] not in text
    )


def test_healthz_reports_unreachable_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "i"))
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_root_sends_anonymous_users_to_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


def test_root_sends_a_regulator_to_the_search(regulator_client) -> None:  # type: ignore[no-untyped-def]
    response = regulator_client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/recherche")


def test_connectors_command_lists_capabilities(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["connectors"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert set(lines) == {"cpts", "doctolib_like", "sas_agenda", "sos_medecins"}
    assert "accounts" in lines["doctolib_like"] and "booking_redirect" in lines["doctolib_like"]


def test_console_script_lists_flask_and_portal_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from portal.cli import main

    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "i"))
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("db", "directory", "connectors", "demo", "run", "routes"):
        assert f"  {command} " in result.output, command


def test_account_without_role_lands_on_a_no_access_page(app: Flask) -> None:
    from portal import db
    from tests.factories import add_user, login

    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = add_user(session)
        session.commit()
        login(client, user)
    response = client.get("/")
    assert response.headers["Location"].endswith("/sans-acces")
    page = client.get("/sans-acces").get_data(as_text=True)
    assert "aucun rôle" in page
    assert client.get("/connexion").headers["Location"].endswith("/sans-acces")  # no loop


def test_wsgi_entry_point_serves_a_warmed_up_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import importlib
    import sys

    from portal.reference import geo

    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "i"))
    sys.modules.pop("portal.wsgi", None)
    try:
        wsgi = importlib.import_module("portal.wsgi")
        # the long-lived objects (commune index included) are out of the collector's sight
        assert gc.get_freeze_count() > 100_000 and geo.get_index.cache_info().currsize == 1
        assert wsgi.app.instance_path == str((tmp_path / "i").resolve())
        assert wsgi.app.test_client().get("/healthz").status_code == 200
    finally:
        gc.unfreeze()
        sys.modules.pop("portal.wsgi", None)
