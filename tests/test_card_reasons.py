"""Cards say why they show no slot, name sources by their label, and never pair
"mis à jour à l'instant" with a stale badge; the summary says what it counts (issue 10,
points 6 and 7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient

from portal import Slot, db
from portal.models import CachedSlot, ConnectorState, Practitioner, SlotFetch
from portal.search import cards
from portal.search.filters import SlotFilter
from portal.search.live import source_problem
from portal.search.service import SearchOutcome, SearchRequest
from portal.slots.aggregation import SourceStatus
from portal.slots.cache import CachedSlots
from portal.slots.states import SourceLabels, humanise
from tests.factories import AGEN_PLACE as PLACE
from tests.factories import add_practitioner
from tests.factories import render_results as _render

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
EDITOR_A, EDITOR_B, SOS = "doctolib_like:editeur-a", "doctolib_like:editeur-b", "sos_medecins"


def _slot(
    visibility: tuple[str, ...] = ("sas",), modalities: tuple[str, ...] = ("cabinet",)
) -> Slot:
    start = NOW + timedelta(hours=3)
    return Slot(
        source=EDITOR_A, id=f"s-{visibility}-{modalities}", practitioner="810000000001",
        start=start, end=start + timedelta(minutes=15), modalities=modalities,
        visibility=visibility,
    )  # fmt: skip


def _found(slots: tuple[Slot, ...] = (), **fields: object) -> CachedSlots:
    values: dict[str, object] = {
        "slots": slots, "sources": (), "fetched_at": None, "failing": (),
    }  # fmt: skip
    values.update(fields)
    return CachedSlots(**values)  # type: ignore[arg-type]


def _view(
    found: CachedSlots, shown: SlotFilter | None = None, refused: frozenset[str] = frozenset()
):  # type: ignore[no-untyped-def]
    labels = SourceLabels({"sos_medecins": "SOS Médecins"}, {})
    return cards.slot_view(
        found, shown or SlotFilter(), refused, department="47", now=NOW, labels=labels
    )


def test_sources_are_named_by_their_label_never_their_id() -> None:
    config = {"doctolib_like": {"editors": {"editeur-b": {"label": "Maiia (test)"}}},
              "cpts": {"label": "CPTS de l'Agenais"}}  # fmt: skip
    labels = SourceLabels({"sos_medecins": "SOS Médecins", "cpts": "CPTS"}, config)
    assert labels(EDITOR_A) == "Éditeur A"  # no label configured: the id made readable
    assert labels(EDITOR_B) == "Maiia (test)"  # the editor's configured label
    assert labels(SOS) == "SOS Médecins"  # the connector's own label
    assert labels("cpts") == "CPTS de l'Agenais"  # its section's label first
    assert labels.names([EDITOR_A, EDITOR_A, SOS]) == ("Éditeur A", "SOS Médecins")
    assert humanise("sos-medecins-agen") == "SOS Médecins Agen"


def test_each_reason_for_a_card_without_slot_is_said_in_words() -> None:
    assert _view(_found()).reason == cards.NO_AGENDA
    fresh = _found(sources=(EDITOR_A,), fetched_at=NOW - timedelta(minutes=2))
    assert _view(fresh).reason == cards.NO_FREE_SLOT
    failing = _found(sources=(EDITOR_A,), failing=(EDITOR_A,),
                     failing_since=((EDITOR_A, NOW - timedelta(hours=2)),))  # fmt: skip
    view = _view(failing)
    assert view.reason == cards.FAILING
    # since when, in the department's local time (Paris: UTC+1 in March)
    assert view.failing_detail == (("Éditeur A", "dernière réponse à 08:00"),)
    never = _view(_found(sources=(EDITOR_A,), failing=(EDITOR_A,),
                         failing_since=((EDITOR_A, None),)))  # fmt: skip
    assert never.failing_detail == (("Éditeur A", "aucune réponse reçue"),)
    hidden = _found((_slot(("public",)),), sources=(EDITOR_A,), fetched_at=NOW)
    assert _view(hidden, refused=frozenset({"public"})).reason == cards.HIDDEN_KIND
    other_modality = _found((_slot(),), sources=(EDITOR_A,), fetched_at=NOW)
    tele = SlotFilter(modalities=("teleconsultation",))
    assert _view(other_modality, tele).reason == cards.NOT_THE_CHOSEN
    killed = _view(_found(killed=(SOS,)))
    assert killed.reason == "Source coupée par un administrateur : SOS Médecins."
    assert _view(other_modality).reason is None  # it shows its slot


def test_a_source_not_implemented_here_is_not_reported_failing() -> None:
    assert source_problem(SourceStatus(EDITOR_A, "absent")) is None
    assert source_problem(SourceStatus(EDITOR_A, "pending")) == "réponse attendue"
    assert source_problem(SourceStatus(EDITOR_A, "fresh")) is None
    assert source_problem(SourceStatus(EDITOR_A, "timeout")) == "délai dépassé"
    assert source_problem(SourceStatus(EDITOR_A, "killed")) == "coupée"


def _card(html: str, national_id: str) -> str:
    start = html.index(f'id="carte-{national_id}"')
    end = html.find('<li class="result-card', start + 1)
    return html[start : end if end > 0 else len(html)]


def test_cards_of_the_results_page_say_why_and_name_sources(  # type: ignore[no-untyped-def]
    app: Flask, regulator_client: FlaskClient
) -> None:
    app.config["CONNECTORS"] = {
        **(app.config.get("CONNECTORS") or {}),
        "doctolib_like": {"editors": {"editeur-b": {"label": "Maiia (test)"}}},
    }
    now = datetime.now(UTC)
    with app.app_context():
        s = db.session()
        ids = {name: add_practitioner(s, family_name=name).national_id
               for name in ("Sansagenda", "Libre", "Panne", "Coupe", "Cache", "Mixte")}  # fmt: skip
        s.flush()
        hider = s.query(Practitioner).filter_by(national_id=ids["Cache"]).one()
        hider.refuses_public_display = True

        def fetch(source: str, owner: str, status: str, fetched: datetime | None) -> None:
            s.add(SlotFetch(source=source, national_id=ids[owner], fetched_at=fetched,
                            attempted_at=now, status=status))  # fmt: skip

        def cached(source: str, owner: str, visibility: tuple[str, ...]) -> None:
            start = now + timedelta(hours=2)
            slot = Slot(source=source, id=f"{owner}-1", practitioner=ids[owner], start=start,
                        end=start + timedelta(minutes=15), modalities=("cabinet",),
                        visibility=visibility)  # fmt: skip
            s.add(CachedSlot(source=source, upstream_id=slot.id, practitioner=ids[owner],
                             start=slot.start, end=slot.end, data=slot.as_json(),
                             fetched_at=now))  # fmt: skip

        fetch(EDITOR_A, "Libre", "fresh", now)
        fetch(EDITOR_B, "Panne", "failed", None)
        fetch(SOS, "Coupe", "fresh", now)
        s.add(ConnectorState(source=SOS, killed=True, consecutive_failures=0))
        fetch(EDITOR_A, "Cache", "fresh", now)
        cached(EDITOR_A, "Cache", ("public",))
        # one fresh source and one that never answered: stale badge, no "mis à jour"
        fetch(EDITOR_A, "Mixte", "fresh", now)
        fetch(EDITOR_B, "Mixte", "timeout", now - timedelta(minutes=30))
        cached(EDITOR_A, "Mixte", ("sas",))
        s.commit()
    html = regulator_client.get("/recherche?insee=47001&specialite=SM54").get_data(as_text=True)
    assert "doctolib_like:" not in html and "sos_medecins" not in html
    assert "Pas d&#39;agenda en ligne connecté." in _card(html, ids["Sansagenda"])
    libre = _card(html, ids["Libre"])
    assert (
        "aucun créneau libre dans les 72 h" in libre and "Agenda consulté à l&#39;instant" in libre
    )
    panne = _card(html, ids["Panne"])
    assert "la source de cet agenda est en échec ou suspendue" in panne
    assert "Maiia (test) (en échec, aucune réponse reçue)" in panne
    coupe = _card(html, ids["Coupe"])
    assert "Source coupée par un administrateur" in coupe
    assert "ne diffuse pas ce type de créneau" in _card(html, ids["Cache"])
    mixte = _card(html, ids["Mixte"])
    last = (now - timedelta(minutes=30)).astimezone(ZoneInfo("Europe/Paris"))
    assert f"Maiia (test) (en échec, dernière réponse à {last:%H:%M})" in mixte
    assert "possiblement périmés" in mixte and "mis à jour" not in mixte
    assert re.search(r'class="slot[^"]*"', mixte)  # its slot is still shown


def test_the_summary_says_what_it_counts(app: Flask) -> None:
    outcome = SearchOutcome(SearchRequest(insee="47001"), place=PLACE, radius_km=10,
                            total=121, entries=69)  # fmt: skip
    html = _render(app, outcome)
    assert re.search(
        r"<strong>121</strong> professionnels ou structures\s*sur <strong>69</strong> fiches", html
    )
    same = _render(app, SearchOutcome(SearchRequest(insee="47001"), place=PLACE, radius_km=10,
                                      total=1, entries=1))  # fmt: skip
    assert (
        re.search(r"<strong>1</strong> professionnel ou structure\s", same) and "fiche" not in same
    )
