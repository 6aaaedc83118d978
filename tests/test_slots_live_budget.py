"""The live refresh under its budget: no web request waits for an editor longer than
``LIVE_REFRESH_BUDGET_S``; a late answer lands in the cache and the page's single
second request picks it up."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import SlotTarget, db
from portal.models import ConnectorBinding, SlotFetch, SlotFlight
from portal.plugins import make_plugin_manager
from portal.slots import aggregation, background, flight
from tests.factories import DelayedEditor, add_practitioner, add_user, login


def _regulator(app: Flask) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        session = db.session()
        login(client, add_user(session, "regulateur"))
        session.commit()
    return client


def _wait_landed(app: Flask, national_id: str, timeout_s: float = 5.0) -> None:
    ends = time.monotonic() + timeout_s
    with app.app_context():
        session = db.session()
        while time.monotonic() < ends:
            fetch = session.scalars(
                select(SlotFetch).where(SlotFetch.national_id == national_id)
            ).one_or_none()
            session.commit()
            if fetch is not None and fetch.status == "fresh":
                return
            time.sleep(0.05)
    raise AssertionError("the late answer never landed in the cache")


@pytest.mark.inline_plugins
def test_a_slow_editor_does_not_hold_the_request_and_the_page_asks_once_more(  # type: ignore[no-untyped-def]
    app, register_plugin
) -> None:
    app.config.update(LIVE_REFRESH_BUDGET_S=0.3, CONNECTOR_DEADLINE_S=4.0)
    editor = DelayedEditor("lent", delay_s=1.0)
    register_plugin(editor, name="lent")
    with app.app_context():
        s = db.session()
        p = add_practitioner(s, family_name="Attendu")
        s.add(ConnectorBinding(source="lent", practitioner_id=p.id, upstream_ids={}))
        s.commit()
        national_id = p.national_id
    client = _regulator(app)

    began = time.monotonic()
    first = client.get(f"/recherche/creneaux?jeton=abc&ids={national_id}").get_data(as_text=True)
    assert time.monotonic() - began < 0.9  # the budget, not the editor's second
    # sources by their label (a connector without connector_info: its name made readable)
    assert "Lent (réponse attendue)" in first
    assert "Nouvel essai dans 4 s pour Lent." in first
    again = re.search(r'hx-get="([^"]+)" hx-trigger="load delay:4s"', first)
    assert again is not None and 'id="actualisation"' in first
    url = html.unescape(again.group(1))
    assert "relance=1" in url and national_id in url and "jeton=abc" in url
    assert 'class="slot"' not in first

    _wait_landed(app, national_id)  # the answer came after the request had returned
    second = client.get(url).get_data(as_text=True)
    assert 'class="slot"' in second  # the late answer, picked up
    assert "réponse attendue" not in second and "hx-trigger" not in second  # no third time
    assert editor.calls == 1  # fetched within the freshness threshold: not asked again


def test_refresh_within_reports_pending_then_the_answer_lands(app) -> None:  # type: ignore[no-untyped-def]
    editor = DelayedEditor("lent", delay_s=0.6)
    pm = make_plugin_manager(load_entry_points=False, plugins={"lent": editor})
    now = datetime.now(UTC)
    start, end = aggregation.window(now)
    targets = [SlotTarget("810000000042", source="lent")]
    settings = aggregation.Settings(deadline_s=3.0, min_age_s=60)
    with app.app_context():
        began = time.monotonic()
        report = background.refresh_within(
            db.session(), pm, targets, start, end, settings, budget_s=0.1, now=now
        )
        assert time.monotonic() - began < 0.5
        assert report.statuses["lent"].state == "pending"
        assert report.statuses["lent"].error == background.LATE
        _wait_landed(app, "810000000042")
        report = background.refresh_within(
            db.session(), pm, targets, start, end, settings, budget_s=1.0, now=now
        )
    assert report.statuses["lent"].state == "fresh" and editor.calls == 1


def test_a_page_does_not_wait_for_a_source_already_stalled(app) -> None:  # type: ignore[no-untyped-def]
    """Another request has been waiting on this source for longer than the budget: the
    page reads the cache at once; its own fetch still lands in the background."""
    editor = DelayedEditor("lent", delay_s=0.5)
    pm = make_plugin_manager(load_entry_points=False, plugins={"lent": editor})
    now = datetime.now(UTC)
    start, end = aggregation.window(now)
    settings = aggregation.Settings(deadline_s=3.0, min_age_s=60)
    held_since = now - timedelta(seconds=1.5)
    with app.app_context():
        session = db.session()
        session.add(
            SlotFlight(
                source="lent", national_id="810000000001", holder="elsewhere",
                busy_until=held_since + timedelta(seconds=3.0 + flight.MARGIN_S),
            )
        )  # fmt: skip
        session.commit()
        began = time.monotonic()
        report = background.refresh_within(
            session, pm, [SlotTarget("810000000002", source="lent")], start, end, settings,
            budget_s=1.0, now=now,
        )  # fmt: skip
        assert time.monotonic() - began < 0.4  # not the budget, not the editor's 0.5 s
        assert report.statuses["lent"].state == "pending"
        assert report.statuses["lent"].error == background.SLOW
        _wait_landed(app, "810000000002")
    assert editor.calls == 1


def test_a_worker_stops_waiting_for_a_source_that_let_a_page_down(app) -> None:  # type: ignore[no-untyped-def]
    """Once a source was late for a page, the next pages of this process (other targets)
    do not spend their budget on it; once it answers in time, they wait for it again."""
    editor = DelayedEditor("lent", delay_s=0.6)
    pm = make_plugin_manager(load_entry_points=False, plugins={"lent": editor})
    now = datetime.now(UTC)
    start, end = aggregation.window(now)
    settings = aggregation.Settings(deadline_s=3.0, min_age_s=60)
    with app.app_context():
        first = background.refresh_within(
            db.session(), pm, [SlotTarget("810000000051", source="lent")], start, end,
            settings, budget_s=0.2, now=now,
        )  # fmt: skip
        assert first.statuses["lent"].error == background.LATE
        assert background.recently_late(pm) == {"lent"}
        began = time.monotonic()
        second = background.refresh_within(
            db.session(), pm, [SlotTarget("810000000052", source="lent")], start, end,
            settings, budget_s=0.2, now=now,
        )  # fmt: skip
        assert time.monotonic() - began < 0.15  # not waited for at all
        assert second.statuses["lent"].error == background.SLOW
        _wait_landed(app, "810000000052")  # its fetch still ran, in the background
        assert editor.calls == 2
        # the editor recovers: answered within the budget, it is waited for again
        editor.delay_s = 0.0
        background._forget_late(pm, "lent")  # as an answer in time does
        third = background.refresh_within(
            db.session(), pm, [SlotTarget("810000000053", source="lent")], start, end,
            settings, budget_s=1.0, now=now,
        )  # fmt: skip
        assert third.statuses["lent"].state == "fresh"
        assert background.recently_late(pm) == set()
    other = make_plugin_manager(load_entry_points=False, plugins={"lent": editor})
    assert background.recently_late(other) == set()  # remembered per plugin manager
