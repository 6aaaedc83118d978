"""The results UI of /recherche: filters in the URL, fragments, cards, CPTS members,
the "Pourquoi rien ?" panel, the map's data and the live slots endpoint."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import Slot, db, hookimpl
from portal.models import ConnectorBinding
from portal.search.service import (
    Card,
    CardSlots,
    Hit,
    SearchOutcome,
    SearchRequest,
    WhyNothing,
)
from portal.slots import calendar
from tests.factories import AGEN_PLACE as PLACE
from tests.factories import add_practitioner, add_user, login
from tests.factories import render_results as _render

AGEN = "47001"


def _client(app: Flask, role: str) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = add_user(session, role)
        session.commit()
        login(client, user)
    return client


def _seed(app: Flask) -> dict[str, str]:
    with app.app_context():
        s = db.session()
        near = add_practitioner(s, family_name="Proche", dlat=0.01, sas_participation=True)
        far = add_practitioner(s, family_name="Loin", dlat=0.05)
        s.commit()
        return {"near": near.national_id, "far": far.national_id}


# --- page and fragments -----------------------------------------------------------


def test_filters_are_reflected_in_the_form_and_the_links(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    _seed(app)
    url = (
        "/recherche?insee=47001&specialite=SM54&dispo=0-4&modalite=teleconsultation"
        "&modalite=domicile&sas=1&type=sas&type=bogus"
    )
    html = regulator_client.get(url).get_data(as_text=True)
    assert re.search(r'name="dispo" value="0-4"\s+checked', html)
    assert re.search(r'name="modalite" value="teleconsultation"\s+checked', html)
    assert re.search(r'name="modalite" value="domicile"\s+checked', html)
    assert not re.search(r'name="modalite" value="cabinet"\s+checked', html)
    assert re.search(r'name="sas" value="1"\s+checked', html)
    assert re.search(r'name="type" value="sas"\s+checked', html)
    # the filter panel applies itself through HTMX and pushes the URL
    filters = html[html.index('id="filtres"') - 20 : html.index("<legend>Filtres")]
    assert 'hx-get="/recherche"' in filters and 'hx-push-url="true"' in filters
    assert 'hx-include="closest form"' in filters and 'hx-target="#resultats"' in filters
    # without JS the form is a plain GET form
    assert 'action="/recherche" method="get"' in html


def test_htmx_request_gets_the_results_fragment_only(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(app)
    response = regulator_client.get(
        "/recherche?insee=47001&specialite=SM54&sas=1",
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith('<section id="resultats"')
    assert "<form" not in body and "<html" not in body
    # the live refresh carries the slot filters and the visible cards' ids
    trigger = re.search(r'hx-get="(/recherche/creneaux\?[^"]+)"', body)
    assert trigger is not None
    live_url = trigger.group(1).replace("&amp;", "&")
    assert f"ids={ids['near']}" in live_url and ids["far"] not in live_url  # filtered out
    assert 'hx-trigger="load"' in body


def test_cards_have_badges_map_data_and_calendar_targets(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(app)
    html = regulator_client.get("/recherche?insee=47001&specialite=SM54").get_data(as_text=True)
    section = html[html.index('<section id="resultats"') :]
    assert re.search(r'data-lat="[\d.]+" data-lon="[\d.]+"', section.split(">")[0])
    assert "data-rayon=" in section.split(">")[0] and 'data-precision="commune"' in section
    card = section[section.index(f'id="carte-{ids["near"]}"') :]
    card = card[: card.index("</ol>")]
    assert 'tabindex="0"' in card and f'data-id="{ids["near"]}"' in card
    assert re.search(r'data-lat="4[34]\.\d+"', card) and re.search(r'data-lon="0\.\d+"', card)
    assert 'data-rang="' in card
    assert "Participe au SAS" in card
    assert f'id="calendrier-{ids["near"]}"' in card
    assert "Centre de la commune" in section
    # the map panel (vendored Leaflet, no tiles by default)
    assert 'id="carte-zone"' in html and 'data-tiles=""' in html
    assert "vendor/leaflet-1.9.4/leaflet.js" in html and "js/map.js" in html
    assert "Relancer la recherche ici" in html


def test_treating_doctor_is_passed_by_the_mt_parameter(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    ids = _seed(app)
    html = regulator_client.get(f"/recherche?insee=47001&specialite=SM54&mt={ids['far']}").get_data(
        as_text=True
    )
    assert f'<input type="hidden" name="mt" value="{ids["far"]}">' in html
    first = html.index('class="result-card')
    assert f'id="carte-{ids["far"]}"' in html[first : first + 300]
    assert "Médecin traitant" in html


def test_lrm_link_with_an_unknown_origin_is_refused_clearly(regulator_client) -> None:  # type: ignore[no-untyped-def]
    html = regulator_client.get("/recherche?origin=inconnu&inseecode=47001").get_data(as_text=True)
    assert "Ce lien LRM est désactivé ou inconnu" in html
    assert "result-card" not in html


# --- templates with a made-up outcome (CPTS grouping, why panel) ------------------


def _hit(national_id: str, name: str, **fields: Any) -> Hit:
    values: dict[str, Any] = {
        "kind": "practitioner",
        "row_id": 1,
        "national_id": national_id,
        "name": name,
        "specialty_code": "SM54",
        "specialty_label": "Médecine générale",
        "sas_participation": False,
        "place_name": "",
        "address_line": "1 rue Fictive",
        "postal_code": "47000",
        "city": "Agen",
        "department": "47",
        "phone": "05 00 00 00 00",
        "lat": 44.2,
        "lon": 0.62,
        "distance_km": 1.25,
    }
    values.update(fields)
    return Hit(**values)


def _slots(booking_url: str | None) -> CardSlots:
    now = datetime.now(UTC)
    slot = Slot(
        source="ed:a", id="s1", practitioner="810000000001",
        start=now + timedelta(hours=1), end=now + timedelta(hours=1, minutes=15),
        modalities=("teleconsultation",), booking_url=booking_url,
    )  # fmt: skip
    return CardSlots(
        calendar=calendar.three_days([slot], department="47", now=now),
        age="il y a 3 min",
        failing=(),
        sources=("ed:a",),
    )


def test_cpts_members_are_collapsed_under_their_cpts_card(app) -> None:  # type: ignore[no-untyped-def]
    member = Card(
        hit=_hit("810000000001", "Dr Membre Un", badges=("cpts",)),
        slots=_slots("https://editeur.example/rdv/1"),
        group=2,
    )
    cpts = Card(
        hit=_hit("3470000000099", "CPTS du Pays de l'Agenais", kind="structure", badges=("cpts",)),
        slots=None,
        group=2,
        members=(member,),
    )
    outcome = SearchOutcome(
        request=SearchRequest(insee=AGEN), place=PLACE, radius_km=10, cards=[cpts], total=1
    )
    html = _render(app, outcome)
    details = html[html.index("<details") : html.index("</details>")]
    assert "<summary>1 membre de la CPTS</summary>" in details
    assert "Dr Membre Un" in details and 'class="result-card member"' in details
    # the slot is a link to its booking (its owner answers: the editor's page), in a new tab
    assert 'href="/creneaux/ed:a/s1/reserver" target="_blank" rel="noopener"' in details
    assert (
        "Voir le créneau chez l&#39;éditeur" in details
        or "Voir le créneau chez l'éditeur" in details
    )
    # the CPTS card without cached slots still has a calendar target for the live refresh
    assert 'id="calendrier-3470000000099"' in html
    # both the CPTS and its member are refreshed live
    assert "ids=3470000000099%2C810000000001" in html or "ids=3470000000099,810000000001" in html


def test_why_panel_lists_filters_sources_and_widening(app) -> None:  # type: ignore[no-untyped-def]
    outcome = SearchOutcome(
        request=SearchRequest(insee=AGEN, modalities=("domicile",)),
        place=PLACE,
        radius_km=10,
        total=0,
        why=WhyNothing(
            candidates=12,
            removed=(("Modalité : visite à domicile", 9), ("Disponible dans 0–4 h", 3)),
            failed_sources=(("doctolib_like:editeur-a", "délai dépassé"),),
            widen_to_km=25.0,
        ),
        notices=["Médecin traitant non identifié"],
    )
    html = _render(app, outcome)
    why = html[html.index('id="pourquoi"') :]
    assert "Pourquoi rien ?" in why
    assert "12 professionnels" in why
    assert "Modalité : visite à domicile : <strong>9</strong>" in why
    assert "doctolib_like:editeur-a : délai dépassé" in why
    assert "Élargir à 25 km" in why
    link = re.search(r'href="([^"]+)"', why[why.index("Élargir") - 400 :])
    assert link is not None and "rayon=25" in link.group(1) and "modalite=domicile" in link.group(1)
    assert "Médecin traitant non identifié" in html


def test_pagination_links_keep_the_filters(app) -> None:  # type: ignore[no-untyped-def]
    cards = [Card(hit=_hit(f"81000000000{i}", f"Dr {i}"), slots=None, group=4) for i in range(2)]
    outcome = SearchOutcome(
        request=SearchRequest(insee=AGEN, kinds=("sas",), page=2, page_size=2),
        place=PLACE, radius_km=10, cards=cards, total=6, page=2, pages=3,
    )  # fmt: skip
    html = _render(app, outcome)
    nav = html[html.index('class="pagination"') :]
    assert "Page précédente" in nav and "Page suivante" in nav
    nxt = re.search(r'href="([^"]+)" rel="next"', nav)
    assert nxt is not None and "page=3" in nxt.group(1) and "type=sas" in nxt.group(1)
    assert 'hx-push-url="true"' in nav
    assert 'data-rang="3"' in html  # ranks continue across pages
    live = re.search(r'hx-get="(/recherche/creneaux\?[^"]+)"', html)
    assert live is not None and "type=sas" in live.group(1)  # slot filters follow


# --- the live slots endpoint ------------------------------------------------------


class FakeEditor:
    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        mine = [t for t in query.targets if t.source == "fake"]
        return [
            Slot(
                source="fake",
                id=f"{t.national_id}-1",
                practitioner=t.national_id,
                start=query.start + timedelta(hours=2),
                end=query.start + timedelta(hours=2, minutes=20),
                modalities=("cabinet",),
                booking_url="https://fake.example/rdv",
            )
            for t in mine
        ] or None


@pytest.mark.inline_plugins
def test_live_endpoint_answers_out_of_band_calendars(  # type: ignore[no-untyped-def]
    regulator_client, app, register_plugin
) -> None:
    with app.app_context():
        s = db.session()
        p = add_practitioner(s, family_name="Direct")
        other = add_practitioner(s, family_name="Sansagenda")
        s.add(ConnectorBinding(source="fake", practitioner_id=p.id, upstream_ids={}))
        s.commit()
        ids = [p.national_id, other.national_id]
    register_plugin(FakeEditor(), "fake")
    response = regulator_client.get(
        f"/recherche/creneaux?jeton=t0k3n&ids={','.join(ids)},899999999999",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert (
        f'id="calendrier-{ids[0]}" role="group" aria-label="Créneaux" hx-swap-oob="true"'
        ' data-jeton="t0k3n"'
    ) in body
    assert f'id="calendrier-{ids[1]}"' in body  # no agenda: still answered
    assert "899999999999" not in body  # unknown ids are ignored
    assert f'href="/creneaux/fake/{ids[0]}-1/reserver"' in body and "à l&#39;instant" in body
    assert 'id="actualisation-statut"' in body and "Créneaux actualisés" in body
    # a modality filter applies to the refreshed calendars too
    filtered = regulator_client.get(
        f"/recherche/creneaux?ids={ids[0]}&modalite=teleconsultation"
    ).get_data(as_text=True)
    assert "/creneaux/fake/" not in filtered


class PublicEditor:
    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        return [
            Slot(
                source="fake",
                id=f"{t.national_id}-{kind}",
                practitioner=t.national_id,
                start=query.start + timedelta(hours=2),
                end=query.start + timedelta(hours=2, minutes=20),
                visibility=(kind,),
                booking_url=f"https://fake.example/{kind}",
            )
            for t in query.targets
            if t.source == "fake"
            for kind in ("public", "sas")
        ] or None


@pytest.mark.inline_plugins
def test_live_refresh_hides_the_kinds_a_practitioner_refuses_to_display(  # type: ignore[no-untyped-def]
    regulator_client, app, register_plugin
) -> None:
    with app.app_context():
        s = db.session()
        p = add_practitioner(s, family_name="Discret")
        p.refuses_public_display = True
        s.add(ConnectorBinding(source="fake", practitioner_id=p.id, upstream_ids={}))
        s.commit()
        national_id = p.national_id
    register_plugin(PublicEditor(), "fake")
    body = regulator_client.get(f"/recherche/creneaux?ids={national_id}").get_data(as_text=True)
    assert f'href="/creneaux/fake/{national_id}-sas/reserver"' in body  # as on the first paint
    assert f"/creneaux/fake/{national_id}-public/" not in body


def test_live_endpoint_is_protected(app) -> None:  # type: ignore[no-untyped-def]
    anonymous = app.test_client().get("/recherche/creneaux?ids=810000000001")
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    htmx = app.test_client().get(
        "/recherche/creneaux?ids=810000000001", headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 401
    admin = _client(app, "administrateur").get("/recherche/creneaux?ids=810000000001")
    assert admin.status_code == 403


def test_a_big_cpts_card_links_to_the_search_of_all_its_members(regulator_client, app) -> None:  # type: ignore[no-untyped-def]
    from portal.models import Structure, StructureMembership

    with app.app_context():
        s = db.session()
        cpts = Structure(kind="CPTS", name="CPTS Garonne", national_id="3000000077")
        s.add(cpts)
        s.flush()
        for i in range(7):
            member = add_practitioner(s, family_name=f"Membre{i}", dlat=0.001 * (i + 1))
            s.add(StructureMembership(structure_id=cpts.id, practitioner_id=member.id))
        add_practitioner(s, family_name="Independant", dlat=0.002)
        s.commit()
    html = regulator_client.get("/recherche?insee=47001&specialite=SM54").get_data(as_text=True)
    details = html[html.index('<details class="cpts-members"') : html.index("</details>")]
    assert "<summary>7 membres de la CPTS</summary>" in details
    assert details.count('class="result-card member"') == 5
    link = re.search(r'<a href="([^"]*cpts=3000000077[^"]*)"', details)
    assert link is not None and "Voir les 7 membres de la CPTS" in details
    listed = regulator_client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "Membres de <strong>CPTS Garonne</strong> uniquement." in listed
    assert '<input type="hidden" name="cpts" value="3000000077">' in listed  # filters keep it
    assert listed.count('class="result-card"') == 7 and "Independant" not in listed
    assert "Revenir à tous les résultats" in listed and "<details" not in listed
