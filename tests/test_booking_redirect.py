"""Booking a slot from a result card: ``/creneaux/<source>/<slot>/reserver`` asks the
slot's owner only (``book_slot`` routed by source) and opens its booking page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import db, hookimpl
from portal.domain import Slot
from portal.models import AuditEvent, CachedSlot
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_user, client_for

EDITOR = "doctolib_like:editeur-a"


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The installed connectors, the editor configured with its booking ``origin``."""
    connectors = {
        "doctolib_like": {
            "editors": {"editeur-a": {"base_url": "https://editeur-a.test", "origin": "sas-47"}}
        }
    }
    app = make_test_app(database_url, tmp_path / "instance", CONNECTORS=connectors)
    yield app
    dispose_engine(app)


@pytest.fixture
def regulator(app: Flask) -> FlaskClient:
    with app.app_context():
        session = db.session()
        user = add_user(session, "regulateur", national_id="810000000009")
        session.commit()
        return client_for(app, user)


def cache(app: Flask, source: str, slot_id: str, **fields: object) -> None:
    start = datetime.now(UTC) + timedelta(hours=2)
    values: dict[str, object] = {
        "source": source,
        "id": slot_id,
        "practitioner": "810001234567",
        "start": start,
        "end": start + timedelta(minutes=15),
        "booking_url": f"https://editeur-a.test/rdv/{slot_id}?motif=1",
        **fields,
    }
    slot = Slot(**values)  # type: ignore[arg-type]
    with app.app_context():
        session = db.session()
        session.add(
            CachedSlot(
                source=source,
                upstream_id=slot.id,
                practitioner=slot.practitioner,
                start=slot.start,
                end=slot.end,
                data=slot.as_json(),
            )
        )
        session.commit()


def test_a_slot_opens_its_editor_booking_page_with_the_origin(
    app: Flask, regulator: FlaskClient
) -> None:
    cache(app, EDITOR, "rdv/42")
    response = regulator.get(f"/creneaux/{EDITOR}/rdv/42/reserver")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://editeur-a.test/rdv/rdv/42?motif=1&origin=sas-47"
    with app.app_context():
        event = (
            db.session()
            .scalars(select(AuditEvent).where(AuditEvent.action == "creneau.reservation"))
            .one()
        )
    assert event.target == f"{EDITOR}/rdv/42"
    assert event.details["status"] == "redirect"
    assert event.details["practitioner"] == "810001234567"


def test_a_slot_of_a_source_nobody_owns_is_refused_clearly(
    app: Flask, regulator: FlaskClient
) -> None:
    cache(app, "inconnu:x", "s1")
    response = regulator.get("/creneaux/inconnu:x/s1/reserver")
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "Réservation impossible" in page
    assert "aucun connecteur chargé ne gère la source « inconnu:x »" in page
    with app.app_context():
        assert db.session().scalars(select(AuditEvent.action)).all() == []


def test_a_slot_gone_from_the_cache_says_so(regulator: FlaskClient) -> None:
    response = regulator.get(f"/creneaux/{EDITOR}/absent/reserver")
    assert response.status_code == 410
    assert "Ce créneau n&#39;est plus proposé" in response.get_data(as_text=True)


def test_the_owner_refusal_is_shown(app: Flask, regulator: FlaskClient) -> None:
    cache(app, EDITOR, "libre", bookable=False)
    response = regulator.get(f"/creneaux/{EDITOR}/libre/reserver")
    assert response.status_code == 502
    assert "sans rendez-vous (accueil libre)" in response.get_data(as_text=True)


def test_booking_needs_a_regulator(app: Flask) -> None:
    cache(app, EDITOR, "rdv-1")
    anonymous = app.test_client().get(f"/creneaux/{EDITOR}/rdv-1/reserver")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    with app.app_context():
        session = db.session()
        manager = add_user(session, "gestionnaire_structure")
        session.commit()
        forbidden = client_for(app, manager).get(f"/creneaux/{EDITOR}/rdv-1/reserver")
    assert forbidden.status_code == 403


def test_a_booking_url_that_is_not_a_web_address_is_never_followed(
    app: Flask, regulator: FlaskClient
) -> None:
    cache(app, EDITOR, "piege", booking_url="javascript:alert(1)")
    response = regulator.get(f"/creneaux/{EDITOR}/piege/reserver")
    assert response.status_code == 502
    assert "Location" not in response.headers
    assert "pas de lien de réservation valide" in response.get_data(as_text=True)


def test_the_portal_never_follows_a_connector_booking_url_that_is_not_a_web_address(
    app: Flask,
) -> None:
    """Defence in depth: a third-party connector's Booking is checked by the portal too."""
    from portal.booking.redirect import book_cached_slot
    from portal.domain import Booking, BookingRequest, ConnectorInfo
    from portal.errors import ConnectorError
    from portal.plugins import make_plugin_manager

    class Careless:
        @hookimpl
        def connector_info(self) -> ConnectorInfo:
            capabilities = frozenset({"slots", "booking_redirect"})
            return ConnectorInfo(
                name="careless", label="x", kind="editor", capabilities=capabilities
            )

        @hookimpl
        def fetch_slots(self, query: object, config: object) -> None:
            return None

        @hookimpl
        def book_slot(self, slot: Slot, request: object, config: object) -> Booking:
            return Booking(source=slot.source, slot_id=slot.id, status="redirect",
                           redirect_url="javascript:alert(1)")  # fmt: skip

    cache(app, "careless", "s1")
    pm = make_plugin_manager(load_entry_points=False, plugins={"careless": Careless()})
    with app.app_context(), pytest.raises(ConnectorError, match="adresse de réservation invalide"):
        book_cached_slot(
            db.session(), pm, "careless", "s1",
            request=BookingRequest(regulator_id="810000000009"), actor="1", configs={},
        )  # fmt: skip


@pytest.mark.parametrize(
    ("source", "slot_id"),
    [(EDITOR, "rdv/42"), ("cpts", "créneau 7?x=1&y=#2"), ("sos_medecins", "a%2Fb")],
)
def test_the_card_link_is_the_route_url_for_would_build(
    app: Flask, source: str, slot_id: str
) -> None:
    """``reserve_href`` (hand-built for speed) reaches the route with the same values."""
    from flask import url_for

    from portal.views.booking import reserve_href

    class Shown:
        pass

    shown = Shown()
    shown.source, shown.id = source, slot_id  # type: ignore[attr-defined]
    with app.test_request_context("/recherche"):
        href = reserve_href(shown)
        assert unquote(href) == unquote(url_for("booking.reserve", source=source, slot_id=slot_id))
        adapter = app.url_map.bind("localhost")
        endpoint, values = adapter.match(unquote(href))  # the server decodes the path
    assert endpoint == "booking.reserve"
    assert values == {"source": source, "slot_id": slot_id}
