"""Structures as their managers see them: kind, id, addresses, members, feed mode.

A ``gestionnaire_structure`` sees the structures of their grants; an
``administrateur`` sees them all (filtered, paginated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, Structure, StructureMembership
from portal.permissions import Principal
from portal.reference.geo import normalize_department

PAGE_SIZE = 20
KIND_LABELS = {
    "SOS": "Association SOS Médecins",
    "CPTS": "CPTS",
    "MSP": "Maison de santé pluriprofessionnelle",
    "CDS": "Centre de santé",
    "CABINET": "Cabinet",
    "ETAB": "Établissement",
}
FEED_LABELS = {
    "manual": "saisie manuelle dans l'agenda SAS",
    "automatic": "automatique, par le logiciel de la structure",
}


@dataclass(frozen=True, slots=True)
class StructureFilter:
    q: str = ""
    kind: str = ""
    department: str = ""


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    line: str
    postal_code: str
    city: str
    phone: str


@dataclass(slots=True)
class StructureCard:
    structure: Structure
    addresses: list[Address] = field(default_factory=list)
    members: list[Practitioner] = field(default_factory=list)


@dataclass(slots=True)
class StructurePage:
    cards: list[StructureCard]
    total: int
    page: int
    pages: int
    national: bool
    kinds: list[tuple[str, str]] = field(default_factory=list)  # for the national filter


def managed_ids(principal: Principal) -> set[int]:
    """The structures a structure manager manages."""
    return {
        g.structure_id
        for g in principal.grants
        if g.role == "gestionnaire_structure" and g.structure_id is not None
    }


def list_structures(
    session: Session, principal: Principal, filters: StructureFilter, page: int = 1
) -> StructurePage:
    """The structures the principal may see, one page, each with addresses and members."""
    national = "administrateur" in principal.roles
    query = select(Structure)
    if not national:
        query = query.where(Structure.id.in_(managed_ids(principal)))
    if filters.q.strip():
        pattern = f"%{filters.q.strip().lower()}%"
        query = query.where(
            or_(func.lower(Structure.name).like(pattern), Structure.national_id.like(pattern))
        )
    if filters.kind:
        query = query.where(Structure.kind == filters.kind)
    if filters.department:
        query = query.where(Structure.department == normalize_department(filters.department))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    structures = session.scalars(
        query.order_by(Structure.name, Structure.id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    cards = {s.id: StructureCard(s) for s in structures}
    _fill(session, cards)
    return StructurePage(
        list(cards.values()), total, page, pages, national, _kinds(session) if national else []
    )


def _fill(session: Session, cards: dict[int, StructureCard]) -> None:
    """Addresses (distinct places) and members (memberships and places) of these structures."""
    ids = list(cards)
    if not ids:
        return
    members: dict[int, dict[int, Practitioner]] = {i: {} for i in ids}
    places = session.scalars(
        select(PlaceOfPractice)
        .where(PlaceOfPractice.structure_id.in_(ids))
        .order_by(PlaceOfPractice.city, PlaceOfPractice.address_line, PlaceOfPractice.id)
    ).all()
    for place in places:
        assert place.structure_id is not None
        address = Address(
            place.name, place.address_line, place.postal_code, place.city, place.phone
        )
        card = cards[place.structure_id]
        if all(
            (a.line, a.postal_code, a.city) != (address.line, address.postal_code, address.city)
            for a in card.addresses
        ):
            card.addresses.append(address)
    by_place = select(PlaceOfPractice.structure_id, Practitioner).join(
        Practitioner, Practitioner.id == PlaceOfPractice.practitioner_id
    )
    by_membership = select(StructureMembership.structure_id, Practitioner).join(
        Practitioner, Practitioner.id == StructureMembership.practitioner_id
    )
    for query in (
        by_place.where(PlaceOfPractice.structure_id.in_(ids)),
        by_membership.where(StructureMembership.structure_id.in_(ids)),
    ):
        for structure_id, practitioner in session.execute(query):
            if structure_id is not None:
                members[structure_id][practitioner.id] = practitioner
    for structure_id, found in members.items():
        cards[structure_id].members = sorted(
            found.values(), key=lambda p: (p.family_name, p.given_name, p.id)
        )


def _kinds(session: Session) -> list[tuple[str, str]]:
    """(kind, label) of the kinds present, for the filter."""
    present = session.scalars(select(Structure.kind).distinct().order_by(Structure.kind))
    return [(k, KIND_LABELS.get(k, k)) for k in present]
