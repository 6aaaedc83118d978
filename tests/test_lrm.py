"""LRM contextual links (INT_L01) and the administration of the LRM allow-list."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import db
from portal.models import AuditEvent, LrmHit, LrmOrigin, utcnow
from portal.permissions import ENDPOINTS, Grant, Principal, menu_for
from portal.search import lrm, lrm_origins
from portal.search.lrm import ABSENT, FREE_TEXT, INVALID, NORMED
from tests.factories import add_practitioner, add_user

RPPS = "810001234567"
TREATING = f"urn:oid:1.2.250.1.71.4.2.1|{RPPS}"


@pytest.fixture
def origins(app: Flask) -> None:
    with app.app_context():
        s = db.session()
        s.add(LrmOrigin(code="lrm-47", label="SAMU 47", enabled=True))
        s.add(LrmOrigin(code="lrm-off", label="Ancien LRM", enabled=False))
        s.commit()


def parse_args(
    app: Flask, args: dict[str, str], *, street_level: bool = False, actor: str | None = None
) -> lrm.LrmContext:
    """Follow an INT_L01 link of origin ``lrm-47`` with ``args``."""
    with app.app_context():
        return lrm.parse_lrm_link(
            db.session(), {"origin": "lrm-47", **args}, actor=actor, street_level=street_level
        )


def parse(
    app: Flask, *, street_level: bool = False, actor: str | None = None, **args: str
) -> lrm.LrmContext:
    return parse_args(app, args, street_level=street_level, actor=actor)


def hits(app: Flask) -> list[LrmHit]:
    with app.app_context():
        return list(db.session().scalars(select(LrmHit).order_by(LrmHit.id)))


def test_is_lrm_link() -> None:
    assert lrm.is_lrm_link({"origin": "lrm-47", "inseecode": "47001"})
    assert lrm.is_lrm_link({"origin": ""})  # present but empty: refused later, not ignored
    assert not lrm.is_lrm_link({"lieu": "Agen"})


@pytest.mark.parametrize("origin", ["inconnue", "lrm-off", ""])
def test_unknown_disabled_or_empty_origin_is_refused_and_logged(
    app: Flask, origins: None, origin: str
) -> None:
    with app.app_context():
        s = db.session()
        user = add_user(s, ("regulateur", {}))
        s.commit()
        actor = str(user.id)
        context = lrm.parse_lrm_link(
            s, {"origin": origin, "inseecode": "47001", "practitioner": TREATING}, actor=actor
        )
    assert context.request is None
    assert context.refused == (
        "Ce lien LRM est désactivé ou inconnu : contactez le support du portail SAS."
    )
    [hit] = hits(app)
    assert hit.origin == origin and not hit.accepted and hit.user_id == int(actor)
    assert hit.params["inseecode"] == NORMED and hit.params["city"] == ABSENT
    with app.app_context():
        event = db.session().scalars(select(AuditEvent)).one()
    assert event.action == "lrm_refused" and event.actor == actor
    assert event.target == (origin or None)


def test_every_parameter_normed(app: Flask, origins: None) -> None:
    context = parse(
        app,
        actor=None,
        practitioner=TREATING,
        specialty="urn:oid:1.2.250.1.213.2.28|SM40",
        inseecode="47001",
        city="Agen",
        streetname="rue Fictive",
        streetnumber="12",
    )
    assert context.refused is None and context.notices == []
    request = context.request
    assert request is not None
    assert request.treating == RPPS and request.specialty == "SM40" and request.text == ""
    assert request.insee == "47001" and request.where == "Agen (47000)"
    assert request.origin == "lrm-47"
    [hit] = hits(app)
    assert hit.accepted and hit.origin == "lrm-47" and hit.user_id is None
    assert hit.params == {
        "practitioner": NORMED,
        "specialty": NORMED,
        "inseecode": NORMED,
        "city": NORMED,
        "streetname": FREE_TEXT,  # a street name is text by nature
        "streetnumber": NORMED,
    }


def test_the_hit_never_stores_a_parameter_value(app: Flask, origins: None) -> None:
    parse(app, practitioner="Dr Martin", specialty="acupuncture", city="Agen", streetname="rue X")
    with app.app_context():
        raw = db.session().execute(select(LrmHit.params)).scalar_one()
    dumped = json.dumps(raw, ensure_ascii=False)
    for value in ("Martin", "acupuncture", "Agen", "rue X"):
        assert value not in dumped
    assert set(raw.values()) <= {NORMED, FREE_TEXT, ABSENT, INVALID}


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("10001234567", FREE_TEXT),  # bare RPPS
        ("0123456789", FREE_TEXT),  # ADELI
        ("Dr Jean Martin", FREE_TEXT),
        ("urn:oid:1.2.250.1.71.4.2.1|0123456789", INVALID),  # coded ADELI: not a RPPS
        ("urn:oid:1.2.250.1.71.4.2.1|8123", INVALID),
        (f"urn:oid:1.2.250.1.71.4.2.2|{RPPS}", INVALID),  # a structure system
    ],
)
def test_practitioner_in_another_form_gives_a_notice(
    app: Flask, origins: None, value: str, status: str
) -> None:
    context = parse(app, practitioner=value, inseecode="47001")
    assert context.request is not None and context.request.treating == ""
    assert context.notices == [
        "Médecin traitant non identifié (format non reconnu) : la recherche continue sans lui."
    ]
    assert hits(app)[0].params["practitioner"] == status


def test_absent_practitioner_says_nothing(app: Flask, origins: None) -> None:
    context = parse(app, inseecode="47001")
    assert context.request is not None and context.request.treating == ""
    assert context.notices == []
    assert hits(app)[0].params["practitioner"] == ABSENT


@pytest.mark.parametrize(
    ("value", "code", "text", "status"),
    [
        ("", "SM54", "", ABSENT),  # default: general medicine
        ("urn:oid:1.2.250.1.213.2.28|SM54", "SM54", "", NORMED),
        ("urn:oid:1.2.250.1.213.2.28|sm40", "SM40", "", NORMED),
        ("pédiatrie", "SM40", "", FREE_TEXT),
        ("PEDIATRIE", "SM40", "", FREE_TEXT),
        ("Médecine générale", "SM54", "", FREE_TEXT),
        ("généraliste", "SM54", "", FREE_TEXT),
        ("SM15", "SM15", "", FREE_TEXT),  # a bare code
    ],
)
def test_specialty_read_without_notice(
    app: Flask, origins: None, value: str, code: str, text: str, status: str
) -> None:
    context = parse(app, specialty=value, inseecode="47001")
    assert context.request is not None
    assert (context.request.specialty, context.request.text) == (code, text)
    assert context.notices == []
    assert hits(app)[0].params["specialty"] == status


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("acupuncture douce", FREE_TEXT),
        ("médecine", FREE_TEXT),  # ambiguous: many "Médecine …" labels
        ("urn:oid:1.2.250.1.213.2.28|XX99", INVALID),
        ("urn:oid:1.2.3|SM54", INVALID),  # another system
    ],
)
def test_unknown_specialty_falls_back_to_general_medicine(
    app: Flask, origins: None, value: str, status: str
) -> None:
    """Never "all specialties": general medicine, and the notice says so."""
    context = parse(app, specialty=value, inseecode="47001")
    assert context.request is not None
    assert (context.request.specialty, context.request.profession) == ("SM54", "")
    assert context.request.text == ""
    assert len(context.notices) == 1
    assert "non reconnue" in context.notices[0] and "médecine générale" in context.notices[0]
    assert hits(app)[0].params["specialty"] == status


@pytest.mark.parametrize(
    ("value", "profession", "status"),
    [
        ("urn:oid:1.2.250.1.213.2.28|INF", "60", INVALID),  # the national simulator's form
        ("urn:oid:1.2.250.1.213.2.28|kine", "70", INVALID),
        ("INF", "60", FREE_TEXT),
        ("Infirmière", "60", FREE_TEXT),
        ("sage-femme", "50", FREE_TEXT),
        ("Chirurgien-Dentiste", "40", FREE_TEXT),
        ("60", "60", FREE_TEXT),
    ],
)
def test_profession_sent_as_a_specialty_searches_the_profession(
    app: Flask, origins: None, value: str, profession: str, status: str
) -> None:
    context = parse(app, specialty=value, inseecode="47001")
    assert context.request is not None
    assert (context.request.specialty, context.request.profession) == ("", profession)
    assert len(context.notices) == 1 and "lu comme la profession" in context.notices[0]
    assert hits(app)[0].params["specialty"] == status


def test_inf_link_lists_nurses_not_everybody(
    app: Flask, origins: None, regulator_client: FlaskClient
) -> None:
    """Through ``/recherche``: an ``INF`` link shows the nurses around, not the doctors."""
    with app.app_context():
        s = db.session()
        nurse = add_practitioner(s, family_name="Soignante", specialty=None)
        nurse.profession_code = "60"
        add_practitioner(s, family_name="Docteur", dlat=0.01)
        s.commit()
    link = "/recherche?origin=lrm-47&inseecode=47001&specialty=urn%3Aoid%3A1.2.250.1.213.2.28%7CINF"
    html = regulator_client.get(link).get_data(as_text=True)
    assert "lu comme la profession « Infirmier »" in html
    assert "Soignante" in html and "Docteur" not in html
    unknown = regulator_client.get(
        "/recherche?origin=lrm-47&inseecode=47001&specialty=urn%3Aoid%3A1.2.250.1.213.2.28%7CZZZ"
    ).get_data(as_text=True)
    assert "non reconnue" in unknown
    assert "Docteur" in unknown and "Soignante" not in unknown


def test_arrondissement_code_maps_to_its_city(app: Flask, origins: None) -> None:
    context = parse(app, inseecode="75112")
    assert context.request is not None
    assert context.request.insee == "75056" and context.request.where == "Paris (75012)"
    assert context.notices == []


def test_inseecode_is_preferred_over_city(app: Flask, origins: None) -> None:
    context = parse(app, inseecode="47001", city="Bordeaux")
    assert context.request is not None and context.request.insee == "47001"


@pytest.mark.parametrize("code", ["99999", "4700", "abc"])
def test_unknown_inseecode_falls_back_to_city(app: Flask, origins: None, code: str) -> None:
    context = parse(app, inseecode=code, city="bordeaux")
    assert context.request is not None
    assert context.request.insee == "33063" and context.request.where == "Bordeaux (33000)"
    assert context.notices == []
    params = hits(app)[0].params
    assert params["inseecode"] == INVALID and params["city"] == NORMED


def test_city_alone_is_resolved_by_name(app: Flask, origins: None) -> None:
    context = parse(app, city="AGEN")
    assert context.request is not None and context.request.insee == "47001"
    assert hits(app)[0].params["inseecode"] == ABSENT


@pytest.mark.parametrize(
    "args",
    [
        {"inseecode": "99999", "city": "Agenn", "streetname": "rue X"},
        {"city": "Agenn"},
        {"inseecode": "abc"},
        {},
    ],
)
def test_unresolvable_address_prefills_what_could_be_read(
    app: Flask, origins: None, args: dict[str, str]
) -> None:
    context = parse_args(app, {"practitioner": TREATING, "specialty": "pédiatrie", **args})
    request = context.request
    assert request is not None and context.refused is None
    assert request.insee == "" and request.where == args.get("city", "")
    assert request.treating == RPPS and request.specialty == "SM40"
    assert context.notices == ["Adresse du patient non résolue : précisez la commune."]
    assert hits(app)[0].accepted


@pytest.mark.parametrize(
    ("number", "street", "where", "status"),
    [
        ("12", "rue Fictive", "12 rue Fictive 47000 Agen", NORMED),
        ("12 bis", "rue Fictive", "12 rue Fictive 47000 Agen", FREE_TEXT),
        ("n°12", "rue Fictive", "12 rue Fictive 47000 Agen", FREE_TEXT),
        ("bis", "rue Fictive", "rue Fictive 47000 Agen", INVALID),
        ("", "12 rue Fictive", "12 rue Fictive 47000 Agen", ABSENT),  # number in the street
        ("12", "12 rue Fictive", "12 rue Fictive 47000 Agen", NORMED),  # not twice
    ],
)
def test_street_level_address_is_the_where_text(
    app: Flask, origins: None, number: str, street: str, where: str, status: str
) -> None:
    context = parse(
        app, street_level=True, inseecode="47001", streetnumber=number, streetname=street
    )
    assert context.request is not None
    # no insee: the search geocodes ``where`` (an insee would win over it)
    assert context.request.where == where and context.request.insee == ""
    assert hits(app)[0].params["streetnumber"] == status


def test_street_level_in_an_arrondissement(app: Flask, origins: None) -> None:
    context = parse(
        app, street_level=True, inseecode="75112", streetnumber="3", streetname="rue de Lyon"
    )
    assert context.request is not None
    assert context.request.where == "3 rue de Lyon 75012 Paris"
    assert context.request.insee == ""


def test_without_geocoder_the_commune_is_the_where_text(app: Flask, origins: None) -> None:
    with app.app_context():  # street_level: whether a geocoder is configured (GEOCODER_URL)
        context = lrm.parse_lrm_link(
            db.session(),
            {"origin": "lrm-47", "inseecode": "47001", "streetname": "rue Fictive"},
            actor=None,
        )
        assert context.request is not None and context.request.where == "Agen (47000)"
        context = lrm.parse_lrm_link(
            db.session(),
            {"origin": "lrm-47", "inseecode": "47001", "streetname": "rue Fictive"},
            actor=None,
            street_level=True,
        )
        assert context.request is not None
        assert context.request.where == "rue Fictive 47000 Agen"


# --- administration of the allow-list ---------------------------------------------------


def test_origins_page_lists_states_and_hit_counts(
    app: Flask, origins: None, admin_client: FlaskClient
) -> None:
    parse(app, inseecode="47001")
    parse(app, inseecode="47001")
    with app.app_context():
        s = db.session()
        lrm.parse_lrm_link(s, {"origin": "lrm-off"}, actor=None)
        lrm.parse_lrm_link(s, {"origin": "pirate"}, actor=None)
        old = utcnow() - timedelta(days=40)
        s.add(LrmHit(at=old, origin="lrm-47", accepted=True, params={}))
        s.commit()
        counts = lrm_origins.hit_counts(s)
        stats = lrm_origins.parameter_stats(s)
    assert counts["lrm-47"] == lrm_origins.OriginCounts(accepted=2, refused=0)  # 40 days: out
    assert counts["lrm-off"] == lrm_origins.OriginCounts(accepted=0, refused=1)
    assert stats["inseecode"][NORMED] == 2 and stats["practitioner"][ABSENT] == 2
    html = admin_client.get("/admin/origines-lrm").get_data(as_text=True)
    assert "SAMU 47" in html and "Ancien LRM" in html and "désactivée" in html
    assert "pirate" in html and "inconnue" in html
    assert "Origines LRM" in html  # the menu item


def test_origins_page_is_for_administrators_only(regulator_client: FlaskClient) -> None:
    assert regulator_client.get("/admin/origines-lrm").status_code == 403
    response = regulator_client.post("/admin/origines-lrm", data={"code": "x"})
    assert response.status_code == 403
    regulator = Principal(1, "R", None, (Grant("regulateur", "SAS-47"),))
    admin = Principal(2, "A", None, (Grant("administrateur"),))
    assert "lrm_origins.index" not in {i.endpoint for i in menu_for(regulator, ENDPOINTS)}
    assert "lrm_origins.index" in {i.endpoint for i in menu_for(admin, ENDPOINTS)}


def test_create_origin_is_audited_and_checked(app: Flask, admin_client: FlaskClient) -> None:
    response = admin_client.post(
        "/admin/origines-lrm", data={"code": "lrm-33", "label": " SAMU  33 "}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/admin/origines-lrm"
    with app.app_context():
        s = db.session()
        origin = s.get(LrmOrigin, "lrm-33")
        assert origin is not None and origin.enabled and origin.label == "SAMU 33"
        event = s.scalars(select(AuditEvent)).one()
        assert event.action == "lrm_origin_created" and event.target == "lrm-33"
        assert event.details == {"label": "SAMU 33"}
    html = admin_client.get("/admin/origines-lrm").get_data(as_text=True)
    assert "Origine lrm-33 ajoutée et active." in html
    for bad, message in [
        ("lrm-33", "existe déjà"),
        ("", "Code invalide"),
        ("a b", "Code invalide"),
    ]:
        response = admin_client.post("/admin/origines-lrm", data={"code": bad, "label": ""})
        assert response.status_code == 303
        assert message in admin_client.get("/admin/origines-lrm").get_data(as_text=True)
    with app.app_context():
        assert len(db.session().scalars(select(AuditEvent)).all()) == 1


def test_toggle_origin_is_audited_and_refuses_its_links(
    app: Flask, origins: None, admin_client: FlaskClient
) -> None:
    response = admin_client.post("/admin/origines-lrm/etat", data={"code": "lrm-47", "active": "0"})
    assert response.status_code == 303
    assert parse(app, inseecode="47001").refused is not None
    with app.app_context():
        s = db.session()
        origin = s.get(LrmOrigin, "lrm-47")
        assert origin is not None and not origin.enabled
        events = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [(e.action, e.target, e.details) for e in events] == [
            ("lrm_origin_toggled", "lrm-47", {"enabled": False}),
            ("lrm_refused", "lrm-47", {}),
        ]
    admin_client.post("/admin/origines-lrm/etat", data={"code": "lrm-47", "active": "1"})
    assert parse(app, inseecode="47001").refused is None
    missing = admin_client.post("/admin/origines-lrm/etat", data={"code": "nope", "active": "1"})
    assert missing.status_code == 404


def test_cli_add_and_list(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["lrm", "add", "lrm-64", "--label", "SAMU 64"])
    assert result.exit_code == 0, result.output
    assert "lrm-64" in result.output
    again = runner.invoke(args=["lrm", "add", "lrm-64"])
    assert again.exit_code != 0 and "existe déjà" in again.output
    listing = runner.invoke(args=["lrm", "list"])
    assert listing.exit_code == 0 and "lrm-64" in listing.output and "active" in listing.output
    with app.app_context():
        event = db.session().scalars(select(AuditEvent)).one()
        assert event.action == "lrm_origin_created" and event.actor == "cli"


def test_search_page_follows_an_lrm_link(
    app: Flask, origins: None, regulator_client: FlaskClient
) -> None:
    """Through ``/recherche``: notices shown, refused origin explained, never an error page."""
    link = "/recherche?origin=lrm-47&practitioner=Dr%20X&inseecode=75112&specialty=p%C3%A9diatrie"
    response = regulator_client.get(link)
    assert response.status_code == 200
    assert "Médecin traitant non identifié" in response.get_data(as_text=True)
    response = regulator_client.get("/recherche?origin=lrm-off&inseecode=47001")
    assert response.status_code == 200
    assert "Ce lien LRM est désactivé ou inconnu" in response.get_data(as_text=True)
    response = regulator_client.get("/recherche?origin=lrm-47&city=Agenn&streetnumber=3")
    assert response.status_code == 200
    assert "Adresse du patient non résolue" in response.get_data(as_text=True)
    assert [h.accepted for h in hits(app)] == [True, False, True]
