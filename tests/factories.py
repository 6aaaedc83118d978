"""Test factories: a default for every field, override what the test is about."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner
from portal.services import geo

_ids = itertools.count(1)


def add_practitioner(
    session: Session,
    *,
    family_name: str = "Fictif",
    given_name: str = "Test",
    insee: str = "47001",
    specialty: str | None = "SM54",
    dlat: float = 0.0,
    national_id: str | None = None,
    sas_participation: bool = False,
    phone: str = "05 00 00 00 00",
) -> Practitioner:
    """A practitioner with one place of practice at the centre of ``insee`` (+ ``dlat``°)."""
    commune = geo.get_index().by_insee(insee)
    assert commune is not None, insee
    n = next(_ids)
    practitioner = Practitioner(
        national_id=national_id or f"8990000{n:05d}",
        family_name=family_name,
        given_name=given_name,
        title="DR",
        specialty_code=specialty,
        sas_participation=sas_participation,
        is_demo=True,
    )
    session.add(practitioner)
    session.flush()
    session.add(
        PlaceOfPractice(
            activity_key=f"test-{practitioner.national_id}",
            practitioner_id=practitioner.id,
            address_line=f"{n} rue Fictive",
            postal_code=commune.postal_codes[0] if commune.postal_codes else "",
            insee_code=commune.insee,
            city=commune.name,
            department=commune.department,
            lat=commune.lat + dlat,
            lon=commune.lon,
            phone=phone,
        )
    )
    session.flush()
    return practitioner
