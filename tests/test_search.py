"""The first regulator page: practitioners of the directory around a commune."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import db
from portal.models import SearchLog
from portal.reference import geo
from portal.search.service import SearchRequest, search
from tests.factories import add_practitioner

AGEN = "47001"


def _seed(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        add_practitioner(
            s, national_id="899000000011", family_name="Proche", insee=AGEN, dlat=0.01
        )  # ~1 km
        add_practitioner(
            s, national_id="899000000012", family_name="Plusloin", insee=AGEN, dlat=0.1
        )  # ~11 km
        add_practitioner(
            s, national_id="899000000013", family_name="Pediatre", insee=AGEN, specialty="SM40"
        )
        add_practitioner(
            s, national_id="899000000014", family_name="Bordelais", insee="33063"
        )  # Bordeaux, ~120 km
        s.commit()


def test_search_lists_nearest_first_within_radius(app) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    agen = geo.get_index().by_insee(AGEN)
    assert agen is not None
    with app.app_context():
        # a map search ranks by distance (a commune search shuffles, see test_search_service)
        request = SearchRequest(lat=agen.lat, lon=agen.lon, specialty="SM54")
        outcome = search(db.session(), request)
        assert outcome.place is not None and outcome.place.precision == "carte"
        radius = geo.get_index().department_radius("47")
        assert outcome.widened_from_km == radius.city_radius_km  # nobody has slots
        names = [c.hit.name for c in outcome.cards]
        assert names[0].endswith("Proche")
        assert all("Bordelais" not in n and "Pediatre" not in n for n in names)
        distances = [c.hit.distance_km for c in outcome.cards]
        assert distances == sorted(distances)
        assert 0.5 < distances[0] < 2.0
        # the search is logged anonymously
        log = db.session().scalars(select(SearchLog)).one()
        assert log.insee_code == AGEN and log.result_count == outcome.total
        assert log.where_kind == "map"


def test_search_widens_the_radius_when_nobody_is_near(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        add_practitioner(
            s, national_id="899000000021", family_name="Lointain", insee=AGEN, dlat=0.35
        )  # ~39 km north of Agen
        s.commit()
        outcome = search(s, SearchRequest(insee=AGEN, specialty="SM54"))
        assert [c.hit.name for c in outcome.cards] == ["Dr Test Lointain"]
        assert outcome.widened_from_km is not None
        assert outcome.radius_km > outcome.widened_from_km


def test_unknown_place_is_a_clear_message(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        outcome = search(db.session(), SearchRequest(where="Zzyzx-sur-Mer"))
        assert outcome.place is None
        assert outcome.problem and "introuvable" in outcome.problem
        assert db.session().scalar(select(func.count()).select_from(SearchLog)) == 0


def test_search_page_full_and_fragment(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    page = regulator_client.get("/recherche?lieu=Agen&specialite=SM54")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<form" in html and 'id="resultats"' in html and "Proche" in html
    assert "htmx-2.0.11/htmx.min.js" in html
    assert "HX-Request" in page.headers["Vary"]
    fragment = regulator_client.get(
        "/recherche?lieu=Agen&specialite=SM54", headers={"HX-Request": "true"}
    )
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="resultats"')
    assert "<form" not in body and "Proche" in body and "km" in body


def test_search_page_without_place_shows_the_form_only(regulator_client) -> None:  # type: ignore[no-untyped-def]
    html = regulator_client.get("/recherche").get_data(as_text=True)
    assert 'name="lieu"' in html and "Médecine générale" in html
    assert "result-card" not in html


def test_search_page_unknown_place_proposes_candidates(regulator_client) -> None:  # type: ignore[no-untyped-def]
    html = regulator_client.get("/recherche?lieu=Agenn").get_data(as_text=True)
    assert "introuvable" in html
    assert "insee=47001" in html  # "Agen" proposed as a link


def test_autocompletion_fragment(regulator_client) -> None:  # type: ignore[no-untyped-def]
    html = regulator_client.get("/recherche/communes?lieu=agen").get_data(as_text=True)
    assert 'role="listbox"' in html and 'id="lieu-suggestions"' in html
    first = html.index('role="option"')
    assert 'data-value="47001"' in html[first : first + 200]
    assert "hidden" not in html.split(">")[0]
    empty = regulator_client.get("/recherche/communes?lieu=x").get_data(as_text=True)
    assert "hidden" in empty and 'role="option"' not in empty


def test_cards_show_cached_slots_by_local_day_and_stale_sources(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from portal import Slot
    from portal.models import CachedSlot, SlotFetch

    now = datetime.now(UTC)
    with app.app_context():
        s = db.session()
        p = add_practitioner(s, family_name="Agenda", insee=AGEN)
        # tomorrow 09:30 Paris time, whatever the hour now
        paris = ZoneInfo("Europe/Paris")
        tomorrow = (now.astimezone(paris) + timedelta(days=1)).replace(
            hour=9, minute=30, second=0, microsecond=0
        )
        slot = Slot(
            source="doctolib_like:editeur-a", id="abc", practitioner=p.national_id,
            start=tomorrow, end=tomorrow + timedelta(minutes=15),
            modalities=("teleconsultation",),
        )  # fmt: skip
        s.add(
            CachedSlot(
                source=slot.source,
                upstream_id="abc",
                practitioner=p.national_id,
                start=slot.start,
                end=slot.end,
                data=slot.as_json(),
                fetched_at=now,
            )
        )
        s.add(
            SlotFetch(
                source=slot.source,
                national_id=p.national_id,
                fetched_at=now - timedelta(minutes=12),
                attempted_at=now,
                status="failed",
            )
        )
        s.commit()
    html = regulator_client.get("/recherche?insee=47001&specialite=SM54").get_data(as_text=True)
    card = html[html.index("Agenda") :]
    assert "Demain" in card and "09:30" in card and "Téléconsultation" in card
    last = (now - timedelta(minutes=12)).astimezone(paris)
    assert f"Source en échec : Éditeur A (en échec, dernière réponse à {last:%H:%M})" in card
    assert "doctolib_like:editeur-a" not in card and "mis à jour" not in card
