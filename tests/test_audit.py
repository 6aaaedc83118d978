"""The append-only audit trail: recording, enforcement, listing, CSV export (page and CLI)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal import audit, db
from portal.audit import AuditFilter, AuditTrailIsAppendOnly
from portal.models import AuditEvent, User, UserRole
from tests.conftest import CSP_RECORDER, is_csp_or_error
from tests.factories import add_practitioner, add_user, session_cookie


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_event(session: Session, action: str, when: str, **kwargs: Any) -> AuditEvent:
    kwargs.setdefault("actor", "1")
    event = audit.record(session, action, **kwargs)
    event.at = at(when)  # a new row, not yet flushed: setting its time is not a change
    session.flush()
    return event


@pytest.fixture
def trail(app: Flask) -> dict[str, int]:
    """A small trail: two users, five events over three days (UTC)."""
    with app.app_context():
        s = db.session()
        alice = add_user(s, "administrateur", email="alice@example.test", given_name="Alice")
        bob = add_user(s, "regulateur", email="bob@example.test", given_name="Bob")
        a, b = str(alice.id), str(bob.id)
        add_event(s, "login", "2026-11-01T07:00:00", actor=a, ip="10.0.0.1", request_id="r1")
        add_event(s, "search", "2026-11-01T23:30:00", actor=b, target="47001",
                  details={"insee": "47001", "department": "47", "specialty": "SM54"})  # fmt: skip
        add_event(s, "search", "2026-11-02T10:00:00", actor=b, target="92012",
                  details={"insee": "92012", "department": "92", "specialty": "SM40"})  # fmt: skip
        add_event(s, "connector_kill_switch", "2026-11-03T09:00:00", actor=a,
                  target="cpts", details={"killed": True})  # fmt: skip
        add_event(s, "logout", "2026-11-03T18:00:00", actor=b, request_id="abc_100%")
        s.commit()
        return {"alice": alice.id, "bob": bob.id}


def listed(app: Flask, **filters: Any) -> list[str]:
    with app.app_context():
        page = audit.list_events(db.session(), AuditFilter(**filters))
        return [f"{e.action}@{e.at:%d}" for e in page.events]


# --- recording --------------------------------------------------------------------


def test_record_takes_ip_and_request_id_from_the_request(app: Flask) -> None:
    with app.test_request_context("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.7"}):
        from flask import g

        app.preprocess_request()  # the web layer tells the audit who is asking
        event = audit.record(db.session(), "logout", actor="3")
        db.session().commit()
        assert (event.ip, event.request_id) == ("192.0.2.7", g.request_id)
        explicit = audit.record(db.session(), "logout", actor="3", ip="198.51.100.1")
        assert explicit.ip == "198.51.100.1"
        db.session().rollback()
    # once the request is torn down, nothing of it leaks into later records
    assert audit.REQUEST_ORIGIN.get() is None


# --- append-only ------------------------------------------------------------------


def test_the_service_offers_no_way_to_modify_or_delete() -> None:
    verbs = ("update", "delete", "remove", "purge", "edit", "modify", "change", "set_", "clear")
    public = [name for name in dir(audit) if not name.startswith("_")]
    assert not [n for n in public if any(v in n.lower() for v in verbs)]
    assert not [n for n in audit.__all__ if any(v in n.lower() for v in verbs)]


def test_changing_an_event_is_refused(app: Flask, trail: dict[str, int]) -> None:
    with app.app_context():
        s = db.session()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "login")).one()
        event.actor = "someone else"
        with pytest.raises(AuditTrailIsAppendOnly):
            s.commit()
        s.rollback()
        s.delete(s.get(AuditEvent, event.id))
        with pytest.raises(AuditTrailIsAppendOnly):
            s.flush()
        s.rollback()
        with pytest.raises(AuditTrailIsAppendOnly):
            s.execute(update(AuditEvent).values(actor="x"))
        with pytest.raises(AuditTrailIsAppendOnly):
            s.execute(delete(AuditEvent).where(AuditEvent.action == "login"))
        s.rollback()
    with app.app_context():
        s = db.session()
        assert s.scalar(select(AuditEvent.actor).where(AuditEvent.action == "login")) == str(
            trail["alice"]
        )
        assert len(s.scalars(select(AuditEvent)).all()) == 5


def test_other_tables_are_not_affected(app: Flask, trail: dict[str, int]) -> None:
    with app.app_context():
        s = db.session()
        s.execute(update(User).where(User.id == trail["bob"]).values(given_name="Robert"))
        s.execute(delete(UserRole).where(UserRole.user_id == trail["bob"]))
        s.commit()
        assert s.get(User, trail["bob"]).given_name == "Robert"  # type: ignore[union-attr]


# --- listing ----------------------------------------------------------------------


def test_list_without_filter_is_newest_first(app: Flask, trail: dict[str, int]) -> None:
    assert listed(app) == ["logout@03", "connector_kill_switch@03", "search@02", "search@01",
                           "login@01"]  # fmt: skip


def test_filter_by_action(app: Flask, trail: dict[str, int]) -> None:
    assert listed(app, action="search") == ["search@02", "search@01"]


def test_filter_by_actor_id_email_or_name(app: Flask, trail: dict[str, int]) -> None:
    by_id = listed(app, actor=str(trail["alice"]))
    assert by_id == ["connector_kill_switch@03", "login@01"]
    assert listed(app, actor="alice@example") == by_id
    assert listed(app, actor="Alice") == by_id
    assert listed(app, actor="personne") == []


def test_filter_by_local_days(app: Flask, trail: dict[str, int]) -> None:
    # 2026-11-01 23:30 UTC is 2 November 00:30 in Paris
    since, until = audit.local_day_bounds(
        datetime(2026, 11, 2).date(), datetime(2026, 11, 2).date(), "Europe/Paris"
    )
    assert since == at("2026-11-01T23:00:00") and until == at("2026-11-02T23:00:00")
    assert listed(app, since=since, until=until) == ["search@02", "search@01"]
    assert listed(app, since=at("2026-11-03T00:00:00")) == ["logout@03", "connector_kill_switch@03"]


def test_filter_by_text(app: Flask, trail: dict[str, int]) -> None:
    assert listed(app, text="92012") == ["search@02"]  # target
    assert listed(app, text="SM54") == ["search@01"]  # details
    assert listed(app, text="10.0.0.1") == ["login@01"]  # ip
    assert listed(app, text="abc_100%") == ["logout@03"]  # request id, % and _ literal
    assert listed(app, text="%") == []


def test_filters_combine_and_paginate(app: Flask, trail: dict[str, int]) -> None:
    assert listed(app, action="search", text="47") == ["search@01"]
    with app.app_context():
        page = audit.list_events(db.session(), AuditFilter(), page=2, per_page=2)
        assert (page.total, page.pages, page.page) == (5, 3, 2)
        assert page.has_previous and page.has_next
        assert [e.action for e in page.events] == ["search", "search"]
        last = audit.list_events(db.session(), AuditFilter(), page=99, per_page=2)
        assert last.page == 3 and not last.has_next


# --- the administrator's page -------------------------------------------------------


def test_page_lists_and_filters(admin_client: FlaskClient, trail: dict[str, int]) -> None:
    response = admin_client.get("/admin/audit")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = unescape(response.get_data(as_text=True))
    assert "Journal d'audit" in html and "Coupure d'une source" in html and "Alice" in html
    assert "Exporter ces événements (CSV)" in html

    response = admin_client.get("/admin/audit?action=search&du=2026-11-02&au=2026-11-02")
    html = response.get_data(as_text=True)
    assert html.count("<tr>") == 3  # header + the two searches of 2 November (Paris)
    assert "92012" in html and "47001" in html and "cpts" not in html
    assert 'value="2026-11-02"' in html  # the form shows the filter back
    assert "/admin/audit/export.csv?" in html and "action=search" in html


def test_page_answers_htmx_with_the_results_only(
    admin_client: FlaskClient, trail: dict[str, int]
) -> None:
    response = admin_client.get("/admin/audit?texte=92012", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="journal"')
    assert "<html" not in html and "92012" in html and "47001" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_page_paginates(admin_client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        s = db.session()
        for i in range(55):
            add_event(s, "login", f"2026-11-01T08:{i:02d}:00", actor="7")
        s.commit()
    html = admin_client.get("/admin/audit?acteur=7").get_data(as_text=True)
    assert "page 1 sur 2" in html and 'rel="next"' in html
    html = admin_client.get("/admin/audit?acteur=7&page=2").get_data(as_text=True)
    assert html.count("<time ") == 5 and 'rel="prev"' in html


def test_page_shows_details_readably(admin_client: FlaskClient, app: Flask) -> None:
    """No raw None/True on the page: labels in French, oui/non, "—" left out, local times."""
    with app.app_context():
        s = db.session()
        add_event(s, "search", "2026-11-04T09:00:00", actor="8", details={
            "specialty": "SM54", "insee": None, "department": "47", "with_slots": 0,
            "origin": None, "result_count": 12})  # fmt: skip
        add_event(s, "connector_kill_switch", "2026-11-04T10:00:00", actor="8", target="cpts",
                  details={"killed": False})  # fmt: skip
        add_event(s, "booking_redirect", "2026-11-04T11:00:00", actor="8",
                  details={"start": "2026-11-04T13:30:00+00:00", "roles": ["a", "b"]})  # fmt: skip
        s.commit()
    html = unescape(admin_client.get("/admin/audit?acteur=8").get_data(as_text=True))
    journal = html[html.index('id="journal"') :]
    assert "None" not in journal and "True" not in journal and "False" not in journal
    assert "spécialité</span> SM54" in journal and "résultats</span> 12" in journal
    assert "commune (INSEE)" not in journal  # a None detail is left out
    assert "coupée</span> non" in journal
    assert "début</span> 04/11/2026 14:30" in journal  # Europe/Paris, UTC+1 in November
    assert "rôles</span> a, b" in journal


def test_bad_filters_are_ignored(admin_client: FlaskClient, trail: dict[str, int]) -> None:
    response = admin_client.get("/admin/audit?du=pas-une-date&page=abc")
    assert response.status_code == 200
    assert "<strong>5</strong>" in response.get_data(as_text=True)


def test_only_administrators_see_the_trail(regulator_client: FlaskClient) -> None:
    assert regulator_client.get("/admin/audit").status_code == 403
    assert regulator_client.get("/admin/audit/export.csv").status_code == 403


# --- CSV export -----------------------------------------------------------------------


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_csv_content_and_its_audit_row(
    admin_client: FlaskClient, app: Flask, trail: dict[str, int]
) -> None:
    response = admin_client.get("/admin/audit/export.csv?action=search")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "at,actor,action,target,ip,request_id,details"
    rows = parse_csv(text)
    assert [r["at"] for r in rows] == ["2026-11-01T23:30:00Z", "2026-11-02T10:00:00Z"]  # oldest 1st
    assert rows[0]["actor"] == str(trail["bob"]) and rows[0]["target"] == "47001"
    assert json.loads(rows[0]["details"]) == {"department": "47", "insee": "47001",
                                              "specialty": "SM54"}  # fmt: skip

    with app.app_context():
        export = (
            db.session()
            .scalars(select(AuditEvent).where(AuditEvent.action == "audit_export"))
            .one()
        )
    admin_id = db_user_id(app, "administrateur", exclude=trail["alice"])
    assert export.actor == str(admin_id)
    assert export.details == {"format": "csv", "rows": 2, "filters": {"action": "search"}}
    assert export.request_id == response.headers["X-Request-Id"]


def db_user_id(app: Flask, role: str, *, exclude: int) -> int:
    with app.app_context():
        return (
            db.session()
            .scalars(
                select(User.id).join(UserRole).where(UserRole.role == role, User.id != exclude)
            )
            .one()
        )


def test_export_neutralises_formulas(app: Flask) -> None:
    with app.app_context():
        s = db.session()
        add_event(s, "login_failed", "2026-11-05T10:00:00", actor=None,
                  target="=HYPERLINK(\"http://evil\")", details={"email": "=1+1"})  # fmt: skip
        s.commit()
        text = "".join(audit.iter_csv(db.session(), AuditFilter()))
    row = parse_csv(text)[0]
    assert row["target"] == '\'=HYPERLINK("http://evil")'
    assert row["details"].startswith("{")  # JSON never starts a formula
    assert row["actor"] == ""


def test_export_streams_in_batches(app: Flask) -> None:
    with app.app_context():
        s = db.session()
        for i in range(7):
            add_event(s, "login", f"2026-11-01T08:0{i}:00")
        s.commit()
        seen: list[int] = []
        chunks = list(audit.iter_csv(db.session(), AuditFilter(), batch=3, progress=seen.append))
    assert len(chunks) == 3 and seen == [3, 3, 1]  # header + 3, 3, the last one
    assert len(parse_csv("".join(chunks))) == 7


# --- command line ---------------------------------------------------------------------


def test_cli_export_since_to_stdout(runner: FlaskCliRunner, app: Flask, trail: dict[str, int]):  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["audit", "export", "--since", "2026-11-02"])
    assert result.exit_code == 0, result.output
    rows = parse_csv(result.stdout)
    # from 2 November 00:00 in Paris, i.e. 1 November 23:00 UTC
    assert [(r["action"], r["at"]) for r in rows] == [
        ("search", "2026-11-01T23:30:00Z"),
        ("search", "2026-11-02T10:00:00Z"),
        ("connector_kill_switch", "2026-11-03T09:00:00Z"),
        ("logout", "2026-11-03T18:00:00Z"),
    ]
    with app.app_context():
        export = (
            db.session()
            .scalars(select(AuditEvent).where(AuditEvent.action == "audit_export"))
            .one()
        )
    assert export.details["via"] == "cli" and export.details["rows"] == 4
    assert export.details["output"] == "stdout"


def test_cli_export_until_and_output_file(
    runner: FlaskCliRunner, tmp_path: Path, trail: dict[str, int]
) -> None:
    out = tmp_path / "audit.csv"
    result = runner.invoke(
        args=["audit", "export", "--since", "2026-11-01", "--until", "2026-11-02", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = parse_csv(out.read_text(encoding="utf-8"))
    assert [r["action"] for r in rows] == ["login", "search", "search"]
    assert "3 événement(s) écrit(s)" in result.stderr


def test_cli_export_accepts_instants(runner: FlaskCliRunner, trail: dict[str, int]) -> None:
    result = runner.invoke(
        args=["audit", "export", "--since", "2026-11-03T09:00:00+00:00",
              "--until", "2026-11-03T10:00:00Z"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["action"] for r in parse_csv(result.stdout)] == ["connector_kill_switch"]


def test_cli_export_rejects_bad_dates(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["audit", "export", "--since", "hier"])
    assert result.exit_code == 2 and "AAAA-MM-JJ" in result.output
    result = runner.invoke(args=["audit", "export"])
    assert result.exit_code == 2  # --since is required
    result = runner.invoke(
        args=["audit", "export", "--since", "2026-11-05", "--until", "2026-11-01"]
    )
    assert result.exit_code == 2


# --- searches are audited -------------------------------------------------------------


def test_search_is_audited_without_patient_data(app: Flask, regulator_client: FlaskClient) -> None:
    with app.app_context():
        add_practitioner(db.session(), family_name="Garonne")
        db.session().commit()
    response = regulator_client.get(
        "/recherche?insee=47001&specialite=SM54&lieu=Mme+Dupont+12+rue+des+Lilas"
    )
    assert response.status_code == 200
    with app.app_context():
        s = db.session()
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "search")).one()
        regulator = s.scalars(
            select(User.id).join(UserRole).where(UserRole.role == "regulateur")
        ).one()
    assert event.actor == str(regulator)
    assert event.target == "47001"
    assert event.details["insee"] == "47001" and event.details["department"] == "47"
    assert event.details["specialty"] == "SM54" and event.details["result_count"] == 1
    assert event.request_id == response.headers["X-Request-Id"]
    stored = json.dumps([event.actor, event.target, event.details, event.ip])
    assert "Dupont" not in stored and "Lilas" not in stored


def test_empty_search_is_not_audited(app: Flask, regulator_client: FlaskClient) -> None:
    assert regulator_client.get("/recherche").status_code == 200
    with app.app_context():
        assert db.session().scalars(select(AuditEvent)).all() == []


# --- in a real browser ------------------------------------------------------------------


@pytest.fixture
def audit_server(live_app_csrf: Flask) -> Iterator[tuple[str, dict[str, str]]]:
    from portal.devtools.browser import LiveServer

    with live_app_csrf.app_context():
        s = db.session()
        admin = add_user(s, "administrateur")
        for i in range(3):
            add_event(s, "search", f"2026-11-0{i + 1}T10:00:00", actor=str(admin.id),
                      target=f"4700{i + 1}")  # fmt: skip
        add_event(s, "login", "2026-11-01T07:00:00", actor=str(admin.id))
        s.commit()
        cookie = session_cookie(live_app_csrf, admin)
    with LiveServer(live_app_csrf) as server:
        yield server.url, cookie


@pytest.mark.browser
def test_audit_page_filters_with_htmx_and_reflects_the_url(
    page: Any, audit_server: tuple[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    url, cookie = audit_server
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.add_init_script(CSP_RECORDER)
    page.context.add_cookies([{**cookie, "url": url}])
    page.goto(url + "/admin/audit")
    rows = page.locator("#journal tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_label("Action").select_option(label="Recherche")  # `change` → HTMX
    expect(rows).to_have_count(3)
    expect(page).to_have_url(url + "/admin/audit?action=search")
    page.get_by_label("Texte").fill("47002")
    page.get_by_label("Texte").press("Enter")
    expect(rows).to_have_count(1)
    assert "texte=47002" in page.url and "action=search" in page.url
    export = page.get_by_role("link", name="Exporter ces événements (CSV)")
    assert "texte=47002" in (export.get_attribute("href") or "")
    page.go_back()
    page.reload()  # the URL alone rebuilds the page
    expect(rows).to_have_count(3)
    assert page.evaluate("window.__cspViolations") == []
    assert [m for m in console if is_csp_or_error(m)] == [], console
