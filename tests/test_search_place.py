"""The patient's place as a regulator types it (issue 10, points 1 and 3): addresses in any
order, no silent guess between homonymous communes, departments by name, one-letter typos."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import db
from portal.directory import territories
from portal.reference import geo
from portal.search import place
from tests.factories import add_user, login

AGEN = "47001"


@pytest.mark.parametrize(
    "typed",
    ["12 rue Voltaire Agen", "12 rue Voltaire, 47000 Agen", "Agen 12 rue Voltaire",
     "12 rue Voltaire 47000 Agen", "12bis, avenue Jean Jaurès, Agen"],
)  # fmt: skip
def test_an_address_resolves_to_its_commune_not_to_a_department(typed: str) -> None:
    resolved = place.resolve(where=typed)
    assert resolved.place is not None
    assert resolved.place.insee == AGEN
    assert resolved.place.precision == "commune"
    street = (resolved.place.street or "").lower()
    assert ("voltaire" in street or "jaurès" in street) and "agen" not in street
    assert resolved.notices and "centre de la commune" in resolved.notices[0]
    assert typed in resolved.notices[0]


def test_a_geocoder_places_the_address_at_the_street() -> None:
    asked: list[str] = []

    def geocoder(text: str) -> place.Place | None:
        asked.append(text)
        return place.Place("12 Rue Voltaire 47000 Agen", 44.2, 0.62, AGEN, "47", "adresse")

    resolved = place.resolve(where="12 rue Voltaire Agen", geocoder=geocoder)
    assert asked == ["12 rue Voltaire Agen"]
    assert resolved.place is not None and resolved.place.precision == "adresse"
    assert resolved.notices == ()


def test_homonymous_communes_are_never_resolved_silently() -> None:
    resolved = place.resolve(where="Saint-Pierre")
    assert resolved.place is None
    assert resolved.problem is not None and "Plusieurs communes" in resolved.problem
    assert len(resolved.candidates) > 3
    assert {c.name for c in resolved.candidates} == {"Saint-Pierre"}


def test_the_regulators_departments_settle_homonyms_and_come_first() -> None:
    resolved = place.resolve(where="Saint-Pierre", departments=("974",))
    assert resolved.place is not None and resolved.place.department == "974"
    # in an address too
    resolved = place.resolve(where="3 rue des Lilas Saint-Pierre", departments=("974", "47"))
    assert resolved.place is not None and resolved.place.department == "974"
    # two of the regulator's departments hold one: still a choice, theirs listed first
    homonyms = geo.get_index().homonyms("Saint-Pierre")
    two = tuple(sorted({c.department for c in homonyms})[:2])
    resolved = place.resolve(where="Saint-Pierre", departments=two)
    assert resolved.place is None
    assert {c.department for c in resolved.candidates[:2]} == set(two)


def test_a_department_typed_by_name_or_code() -> None:
    for typed in ("Lot-et-Garonne", "lot et garonne", "47"):
        resolved = place.resolve(where=typed)
        assert resolved.is_department and resolved.place is not None
        assert resolved.place.department == "47"


def test_a_one_letter_typo_offers_the_commune() -> None:
    resolved = place.resolve(where="Agne")
    assert resolved.place is None
    assert resolved.candidates[0].insee == AGEN
    assert geo.get_index().near_misses("Agenn")[0].insee == AGEN  # one letter added
    assert geo.get_index().near_misses("Agan")[0].insee == AGEN  # one letter changed


def test_names_and_codes_still_resolve_directly() -> None:
    for typed in ("Agen", "agen", "47000", "Agen (47000)", "47000 Agen", "47001"):
        resolved = place.resolve(where=typed)
        assert resolved.place is not None and resolved.place.insee == AGEN, typed


def _regulator(app: Flask, territory: str | None) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        session = db.session()
        territories.ensure_all(session)
        user = add_user(session, ("regulateur", {"territory_code": territory}))
        session.commit()
        login(client, user)
    return client


def test_the_page_offers_the_choices_of_an_ambiguous_commune(app: Flask) -> None:
    page = _regulator(app, None).get("/recherche?lieu=Saint-Pierre&specialite=SM54")
    body = page.get_data(as_text=True)
    assert "Plusieurs communes s&#39;appellent « Saint-Pierre »" in body
    assert body.count('href="/recherche?insee=') >= 4


def test_the_page_uses_the_regulators_territory_for_homonyms(app: Flask) -> None:
    page = _regulator(app, "SAS-974").get("/recherche?lieu=Saint-Pierre&specialite=SM54")
    body = page.get_data(as_text=True)
    assert "Plusieurs communes" not in body
    assert 'data-lat="-21.' in body  # Saint-Pierre of La Réunion


def test_suggestions_list_the_regulators_departments_first(app: Flask) -> None:
    body = _regulator(app, "SAS-974").get("/recherche/communes?lieu=Saint-Pi").get_data(True)
    first = body.index("(97410)")
    assert all(first < body.index(code) for code in ("(67140)", "(39150)") if code in body)
    body = _regulator(app, "SAS-67").get("/recherche/communes?lieu=Saint-Pi").get_data(True)
    assert body.index("(67140)") < body.index("(97410)")


def test_an_empty_place_says_what_to_type(app: Flask) -> None:
    body = _regulator(app, None).get("/recherche?lieu=&specialite=SM54").get_data(as_text=True)
    assert "Indiquez le lieu du patient" in body
    # the first visit (no form sent) shows no error
    body = _regulator(app, None).get("/recherche").get_data(as_text=True)
    assert "Indiquez le lieu du patient" not in body


def test_the_typed_street_stays_in_the_field(app: Flask) -> None:
    body = _regulator(app, None).get("/recherche?lieu=12+rue+Voltaire+Agen").get_data(True)
    assert 'value="12 rue Voltaire Agen"' in body
    assert "Adresse non géolocalisée : centre de la commune, Agen (47000)" in body
