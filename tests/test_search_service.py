"""The search service (issue 5): where, what, filters, ranking, widening, badges, CPTS
grouping, pagination and "Pourquoi rien ?", on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from portal import Slot, db
from portal.models import (
    CachedSlot,
    ConnectorState,
    PlaceOfPractice,
    Practitioner,
    SearchLog,
    SlotFetch,
    Structure,
    StructureMembership,
)
from portal.reference import geo
from portal.search import ranking
from portal.search.candidates import Candidate
from portal.search.cards import MEMBERS_SHOWN
from portal.search.service import Place, SearchOutcome, SearchRequest, search
from tests.factories import add_practitioner

AGEN = "47001"
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # 10:00 in Paris
_slot_ids = iter(range(1, 10**6))


def slot(
    session: Session,
    owner: str,
    *,
    hours: float = 1.0,
    modalities: tuple[Any, ...] = ("cabinet",),
    visibility: tuple[Any, ...] = ("sas",),
    source: str = "doctolib_like:editeur-a",
    structure: bool = False,
) -> None:
    """A cached slot of ``owner`` starting ``hours`` after NOW."""
    start = NOW + timedelta(hours=hours)
    value = Slot(
        source=source,
        id=f"s{next(_slot_ids)}",
        practitioner=None if structure else owner,
        structure=owner if structure else None,
        start=start,
        end=start + timedelta(minutes=20),
        modalities=modalities,
        visibility=visibility,
    )
    session.add(
        CachedSlot(
            source=source,
            upstream_id=value.id,
            practitioner=value.practitioner,
            structure=value.structure,
            start=value.start,
            end=value.end,
            data=value.as_json(),
            fetched_at=NOW,
        )
    )


def doctor(session: Session, name: str, **fields: Any) -> Practitioner:
    flags = {
        k: fields.pop(k) for k in ("refuses_public_display", "refuses_pro_display") if k in fields
    }
    practitioner = add_practitioner(session, family_name=name, **fields)
    for key, value in flags.items():
        setattr(practitioner, key, value)
    return practitioner


def structure(session: Session, kind: str, name: str, national_id: str) -> Structure:
    found = Structure(kind=kind, name=name, national_id=national_id, department="47")
    session.add(found)
    session.flush()
    return found


def run(**fields: Any) -> SearchOutcome:
    fields.setdefault("insee", AGEN)
    return search(db.session(), SearchRequest(**fields), now=NOW)


def names(outcome: SearchOutcome) -> list[str]:
    return [c.hit.name.split()[-1] for c in outcome.cards]


def removed(outcome: SearchOutcome) -> dict[str, int]:
    assert outcome.why is not None
    return dict(outcome.why.removed)


# --- filters and "Pourquoi rien ?" -------------------------------------------------------


def test_sas_only_filter_and_its_count(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        doctor(s, "Participant", sas_participation=True)
        doctor(s, "Autre")
        doctor(s, "Encore")
        s.commit()
        outcome = run(sas_only=True)
        assert names(outcome) == ["Participant"]
        assert outcome.why is not None and outcome.why.candidates == 3
        assert removed(outcome) == {"Participants au SAS uniquement": 2}


def test_within_filter_keeps_those_with_a_slot_in_the_window(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        soon, later = doctor(s, "Bientot"), doctor(s, "Plustard")
        doctor(s, "Sanscreneau")
        slot(s, soon.national_id, hours=2)
        slot(s, later.national_id, hours=30)
        s.commit()
        outcome = run(within="0-4")
        assert names(outcome) == ["Bientot"]
        assert removed(outcome) == {"Disponible entre 0 h et 4 h": 2}
        assert names(run(within="24-48")) == ["Plustard"]


def test_modality_filter(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        tele, cab = doctor(s, "Tele"), doctor(s, "Cabinet")
        slot(s, tele.national_id, modalities=("teleconsultation",))
        slot(s, cab.national_id, modalities=("cabinet",))
        s.commit()
        outcome = run(modalities=("teleconsultation",))
        assert names(outcome) == ["Tele"]
        assert removed(outcome) == {"Modalité : téléconsultation": 1}
        # the calendar shows the slots of the chosen modality only
        assert outcome.cards[0].slots is not None and outcome.cards[0].slots.calendar.total == 1


def test_filters_apply_in_order_and_count_each(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        a = doctor(s, "Complet", sas_participation=True)
        b = doctor(s, "Tardif", sas_participation=True)
        doctor(s, "Horssas")
        slot(s, a.national_id, hours=1, modalities=("cabinet",))
        slot(s, b.national_id, hours=10, modalities=("cabinet",))
        s.commit()
        outcome = run(sas_only=True, within="0-4", modalities=("domicile",))
        assert outcome.total == 0
        assert outcome.why is not None
        assert list(outcome.why.removed) == [
            ("Participants au SAS uniquement", 1),
            ("Disponible entre 0 h et 4 h", 1),
            ("Modalité : visite à domicile", 1),
        ]


def test_kinds_filter_on_slot_visibility(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        public, reserved = doctor(s, "Public"), doctor(s, "Reserve")
        slot(s, public.national_id, visibility=("public",))
        slot(s, reserved.national_id, visibility=("sas",))
        s.commit()
        outcome = run(kinds=("sas",))
        assert names(outcome) == ["Reserve"]
        assert removed(outcome) == {"Types de créneaux : réservés SAS": 1}


def test_refusal_flags_hide_public_and_pro_slots(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        shy = doctor(s, "Discret", refuses_public_display=True, refuses_pro_display=True)
        open_ = doctor(s, "Ouvert")
        for p in (shy, open_):
            slot(s, p.national_id, visibility=("public",))
            slot(s, p.national_id, hours=3, visibility=("pro",))
        s.commit()
        outcome = run()
        by_name = {c.hit.name.split()[-1]: c for c in outcome.cards}
        assert by_name["Discret"].group == ranking.GROUP_REST  # no slot it lets us show
        assert by_name["Ouvert"].group == ranking.GROUP_SLOTS
        hidden = by_name["Discret"].slots
        assert hidden is not None and hidden.calendar.total == 0
        shown = by_name["Ouvert"].slots
        assert shown is not None and shown.calendar.total == 2


def test_why_nothing_names_failed_and_killed_sources(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        p = doctor(s, "Seul")
        for source, status in (("doctolib_like:a", "timeout"), ("cpts", "fresh")):
            s.add(
                SlotFetch(source=source, national_id=p.national_id, attempted_at=NOW, status=status)
            )
        s.add(ConnectorState(source="cpts", killed=True))
        s.commit()
        outcome = run()
        assert outcome.why is not None
        assert dict(outcome.why.failed_sources) == {
            "doctolib_like:a": "délai dépassé",
            "cpts": "coupée",
        }
        # nobody with slots: widened to the department radius, nothing wider to propose
        assert outcome.radius_km == 104.0 and outcome.widened_from_km == 30.0
        assert outcome.why.widen_to_km is None
        assert run(radius_km=5, lat=44.2, lon=0.63, insee="").why.widen_to_km == 20.0  # type: ignore[union-attr]


# --- ranking --------------------------------------------------------------------------------


def test_ranking_groups(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        rest = doctor(s, "Reste", dlat=0.01)
        sas_only = doctor(s, "Sassans", sas_participation=True, dlat=0.02)
        slots_only = doctor(s, "Creneaux", dlat=0.03)
        both = doctor(s, "Lesdeux", sas_participation=True, dlat=0.04)
        mt = doctor(s, "Traitant", dlat=0.2)  # far and without slots, within the radius
        for p in (slots_only, both):
            slot(s, p.national_id)
        s.commit()
        outcome = run(treating=mt.national_id)
        assert names(outcome) == ["Traitant", "Lesdeux", "Creneaux", "Sassans", "Reste"]
        assert [c.group for c in outcome.cards] == [0, 1, 2, 3, 4]
        assert outcome.treating_found is True
        assert "mt" in outcome.cards[0].hit.badges
        assert rest.national_id and sas_only.national_id


def test_treating_doctor_is_pinned_even_when_filters_would_remove_them(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        mt = doctor(s, "Traitant", specialty="SM40", dlat=0.25)  # another specialty, no slots
        other = doctor(s, "Voisin", sas_participation=True)
        slot(s, other.national_id)
        s.commit()
        outcome = run(treating=mt.national_id, specialty="SM54", sas_only=True, within="0-4")
        assert names(outcome) == ["Traitant", "Voisin"]
        far = run(treating="899999999999")
        assert far.treating_found is False and far.notices


def _shuffled(day: datetime, count: int = 8) -> list[str]:
    outcome = search(db.session(), SearchRequest(insee=AGEN), now=day)
    assert len(outcome.cards) == count
    return [c.hit.national_id for c in outcome.cards]


def test_commune_search_order_is_stable_within_a_day_and_changes_across_days(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        for i in range(8):
            doctor(s, f"Neutre{i}", dlat=0.001 * i)
        s.commit()
        morning = _shuffled(NOW)
        assert _shuffled(NOW + timedelta(hours=8)) == morning  # same Paris day
        days = {tuple(_shuffled(NOW + timedelta(days=d))) for d in range(1, 6)}
        assert len(days | {tuple(morning)}) > 1
        by_distance = sorted(morning, key=lambda n: n)  # created nearest first
        assert morning != by_distance or days != {tuple(by_distance)}


def test_daily_shuffle_favours_nobody() -> None:
    candidates = [
        Candidate("practitioner", i, f"8{i:011d}", "SM54", False, False, False, 44.2, 0.6,
                  1.0 + i, "47", i)
        for i in range(6)
    ]  # fmt: skip
    entries = [ranking.Entry(c, ranking.GROUP_REST) for c in candidates]
    tops: Counter[str] = Counter()
    for day in range(1200):
        seed = ranking.daily_seed("47001|sm54", NOW + timedelta(days=day))
        tops[ranking.rank(entries, by_distance=False, seed=seed)[0].national_id] += 1
    assert set(tops) == {c.national_id for c in candidates}
    assert all(150 <= n <= 250 for n in tops.values()), tops  # 200 each expected


def test_map_search_orders_by_distance(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        for i, d in enumerate((0.05, 0.01, 0.03)):
            doctor(s, f"Dist{i}", dlat=d)
        s.commit()
        agen = geo.get_index().by_insee(AGEN)
        assert agen is not None
        outcome = run(insee="", lat=agen.lat, lon=agen.lon, radius_km=10)
        assert outcome.place is not None and outcome.place.precision == "carte"
        assert outcome.radius_km == 10 and outcome.widened_from_km is None
        assert names(outcome) == ["Dist1", "Dist2", "Dist0"]


def test_address_search_uses_the_geocoder_then_falls_back_to_the_commune(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        doctor(s, "Loin", dlat=0.02)
        doctor(s, "Pres", dlat=0.05)
        s.commit()
        agen = geo.get_index().by_insee(AGEN)
        assert agen is not None
        spot = Place("1 rue X, 47000 Agen", agen.lat + 0.05, agen.lon, AGEN, "47", "adresse")
        outcome = search(
            s, SearchRequest(where="1 rue X, 47000 Agen"), now=NOW, geocoder=lambda _: spot
        )
        assert outcome.place == spot and names(outcome) == ["Pres", "Loin"]
        fallback = search(
            s, SearchRequest(where="1 rue X, 47000 Agen"), now=NOW, geocoder=lambda _: None
        )
        assert fallback.place is not None and fallback.place.precision == "commune"
        assert fallback.place.insee == AGEN and fallback.notices
        unknown = search(s, SearchRequest(where="Agenn"), now=NOW)
        assert unknown.problem and any(c.insee == AGEN for c in unknown.candidates)


# --- widening, department, what --------------------------------------------------------------


def test_widening_until_five_have_slots(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        near = [doctor(s, f"Pres{i}", dlat=0.01) for i in range(3)]
        far = [doctor(s, f"Loin{i}", dlat=0.35) for i in range(2)]  # ~39 km
        farther = doctor(s, "Tresloin", dlat=0.8)  # ~89 km
        for p in (*near, *far, farther):
            slot(s, p.national_id)
        s.commit()
        outcome = run()
        assert outcome.widened_from_km == 30.0 and outcome.radius_km == 45.0
        assert outcome.with_slots == 5 and "Tresloin" not in names(outcome)
        enough = run(radius_km=None, within="0-4")
        assert enough.radius_km == 45.0
        # 5 with slots already in the first radius: no widening
        for i in range(2):
            slot(s, doctor(s, f"Renfort{i}").national_id)
        s.commit()
        assert run().widened_from_km is None


def test_department_level_search(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        doctor(s, "Marmandais", insee="47157")
        doctor(s, "Agenais")
        doctor(s, "Parisien", insee="75056")
        # within the department-wide radius (~58 km) but in another department
        doctor(s, "Moissagais", insee="82112")
        s.commit()
        # the department's places, distances from its barycentre (department-wide radius)
        outcome = search(s, SearchRequest(where="47"), now=NOW)
        assert outcome.place is not None and outcome.place.department == "47"
        assert outcome.place.insee is None and outcome.place.precision == "commune"
        assert outcome.radius_km == 104.0 and outcome.widened_from_km is None
        assert sorted(names(outcome)) == ["Agenais", "Marmandais"]
        assert all(0 < c.hit.distance_km < 104.0 for c in outcome.cards)
        # nothing with slots: still no widening beyond the department, nothing to propose
        assert outcome.why is not None and outcome.why.widen_to_km is None
        log = s.scalars(select(SearchLog)).one()
        assert log.where_kind == "department" and log.department == "47"


def test_name_and_rpps_search(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        helene = doctor(s, "Dupré", given_name="Hélène", national_id="810001234567")
        doctor(s, "Durand", given_name="Paul")
        s.commit()
        assert names(run(name="dupre")) == ["Dupré"]
        assert names(run(name="HEL")) == ["Dupré"]
        assert names(run(name="du")) and len(run(name="du").cards) == 2
        assert names(run(name="10001234567")) == ["Dupré"]  # RPPS without its prefix
        nowhere = search(s, SearchRequest(name=helene.national_id), now=NOW)
        assert nowhere.place is None and names(nowhere) == ["Dupré"]
        assert search(s, SearchRequest(name="Dupré"), now=NOW).problem


def test_free_text_and_profession(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        p = doctor(s, "Martin")
        doctor(s, "Pediatre", specialty="SM40")
        msp = structure(s, "MSP", "Maison de santé du Gravier", "3999")
        place = s.scalars(
            select(PlaceOfPractice).where(PlaceOfPractice.practitioner_id == p.id)
        ).one()
        place.structure_id = msp.id
        s.commit()
        assert names(run(text="gravier")) == ["Martin"]
        assert names(run(text="pediatrie")) == ["Pediatre"]
        assert len(run(profession="10").cards) == 2 and not run(profession="60").cards


# --- cards -----------------------------------------------------------------------------------


def test_badges(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        p = doctor(s, "Badge", sas_participation=True)
        cpts = structure(s, "CPTS", "CPTS du Pays de l'Agenais", "3000000001")
        msp = structure(s, "MSP", "MSP Agen", "3000000002")
        sos = structure(s, "SOS", "SOS Médecins Agen", "1470000001")
        s.add(StructureMembership(structure_id=cpts.id, practitioner_id=p.id))
        place = s.scalars(
            select(PlaceOfPractice).where(PlaceOfPractice.practitioner_id == p.id)
        ).one()
        place.structure_id = msp.id
        agen = geo.get_index().by_insee(AGEN)
        assert agen is not None
        s.add(PlaceOfPractice(activity_key="sos-site", structure_id=sos.id, name="Site Agen",
                              lat=agen.lat, lon=agen.lon + 0.01, department="47"))  # fmt: skip
        slot(s, sos.national_id, structure=True)
        s.commit()
        by_id = {c.hit.national_id: c for c in run().cards}
        assert by_id[p.national_id].hit.badges == ("sas", "cpts", "msp")
        assert by_id[p.national_id].hit.cpts == ("3000000001",)
        site = by_id[sos.national_id]
        assert site.hit.badges == ("sas", "sos") and site.group == ranking.GROUP_SLOTS_SAS
        assert not any(c.hit.national_id == sos.national_id for c in run(specialty="SM40").cards)


def test_cpts_members_are_collapsed_under_their_cpts_card(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        cpts = structure(s, "CPTS", "CPTS Agenais", "3000000010")
        lonely = structure(s, "CPTS", "CPTS Seule", "3000000011")
        members = [doctor(s, f"Membre{i}", dlat=0.01 * (i + 1)) for i in range(3)]
        alone = doctor(s, "Isole", dlat=0.005)
        best = doctor(s, "Meilleur", dlat=0.1, sas_participation=True)
        slot(s, best.national_id)
        slot(s, members[2].national_id)
        for m in members:
            s.add(StructureMembership(structure_id=cpts.id, practitioner_id=m.id))
        s.add(StructureMembership(structure_id=lonely.id, practitioner_id=alone.id))
        s.commit()
        outcome = run()
        assert outcome.total == 5 and outcome.with_slots == 2  # practitioners, not cards
        first, group_card, last = outcome.cards  # Meilleur, the CPTS card, Isole
        assert first.hit.national_id == best.national_id
        assert group_card.hit.kind == "structure" and group_card.hit.name == "CPTS Agenais"
        assert group_card.group == ranking.GROUP_SLOTS  # its best member's
        assert group_card.members[0].hit.national_id == members[2].national_id
        assert {m.hit.national_id for m in group_card.members} == {m.national_id for m in members}
        assert all(m.slots is not None for m in group_card.members)
        assert last.hit.national_id == alone.national_id and not last.members


def test_a_cpts_card_shows_its_first_members_and_the_search_lists_them_all(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        cpts = structure(s, "CPTS", "CPTS Agenais", "3000000010")
        members = [doctor(s, f"Membre{i}", dlat=0.001 * (i + 1)) for i in range(8)]
        outsider = doctor(s, "Dehors", dlat=0.002)
        for m in members:
            s.add(StructureMembership(structure_id=cpts.id, practitioner_id=m.id))
        slot(s, members[7].national_id)
        s.commit()
        outcome = run(lat=44.2, lon=0.62)  # a map search: by distance
        (card,) = [c for c in outcome.cards if c.members]
        assert card.member_total == 8 and len(card.members) == MEMBERS_SHOWN == 5
        assert card.hit.specialty_label == "CPTS — 8 professionnels"
        assert card.members[0].hit.national_id == members[7].national_id  # the one with slots
        assert card.members[0].slots is not None
        assert len(outcome.cards) == 2 and outcome.total == 9  # CPTS card + outsider
        only = run(lat=44.2, lon=0.62, cpts="3000000010")
        assert only.cpts_name == "CPTS Agenais" and only.total == 8
        assert not any(c.members for c in only.cards)  # not grouped again
        assert outsider.national_id not in {c.hit.national_id for c in only.cards}
        assert only.cards[0].hit.national_id == members[7].national_id
        unknown = run(lat=44.2, lon=0.62, cpts="3999")
        assert unknown.cpts_name is None and len(unknown.cards) == 2
        assert "CPTS inconnue : tous les résultats sont affichés." in unknown.notices


def test_pagination(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        for i in range(7):
            doctor(s, f"Page{i}")
        s.commit()
        first = run(page_size=3)
        assert (first.total, first.pages, first.page, len(first.cards)) == (7, 3, 1, 3)
        third = run(page_size=3, page=3)
        assert len(third.cards) == 1 and third.page == 3
        assert run(page_size=3, page=99).page == 3
        seen = [c.hit.national_id for p in (1, 2, 3) for c in run(page_size=3, page=p).cards]
        assert len(set(seen)) == 7


def test_slot_queries_do_not_grow_with_the_number_of_cards(app) -> None:  # type: ignore[no-untyped-def]
    def statements(count: int) -> int:
        s = db.session()
        for i in range(count):
            slot(s, doctor(s, f"Q{count}-{i}").national_id)
        s.commit()
        seen: list[str] = []
        engine = s.get_bind()

        def listen(*args: Any) -> None:
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", listen)
        try:
            run(specialty="", name=f"Q{count}")
        finally:
            event.remove(engine, "before_cursor_execute", listen)
        return len(seen)

    with app.app_context():
        assert statements(6) == statements(16)


@pytest.mark.parametrize("empty", [SearchRequest(), SearchRequest(specialty="SM54")])
def test_empty_request_does_nothing(app, empty: SearchRequest) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        outcome = search(db.session(), empty, now=NOW)
        assert outcome.place is None and not outcome.cards and outcome.problem is None
