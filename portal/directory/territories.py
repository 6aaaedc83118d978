"""SAS territories (``SAS-47``…): one per department of the national radius table,
and which territories a role's scope (territory, structure, practitioner) lies within."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, or_, select
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Structure, Territory, User, UserRole
from portal.reference.geo import GeoIndex, get_index


def ensure_all(session: Session, geo: GeoIndex | None = None) -> int:
    """Create the Territory row of every department of the radius table that lacks one.

    Idempotent: a department that already has its territory (created by an earlier run
    or by the demo directory) is left alone. Flushes; the caller commits.

    :return: how many territories were created.
    """
    geo = geo or get_index()
    have_codes = set(session.scalars(select(Territory.code)))
    have_departments = set(session.scalars(select(Territory.department)))
    created = 0
    for department in sorted({commune.department for commune in geo}):
        try:
            radius = geo.department_radius(department)
        except KeyError:  # a commune's department missing from the national sheet
            continue
        if radius.territory in have_codes or department in have_departments:
            continue
        session.add(Territory(code=radius.territory, label=radius.label, department=department))
        have_codes.add(radius.territory)
        have_departments.add(department)
        created += 1
    session.flush()
    return created


def all_territories(session: Session) -> list[Territory]:
    """Every territory, in department order (``01`` … ``976``)."""
    return list(session.scalars(select(Territory).order_by(Territory.department)))


def departments_of(session: Session, codes: set[str]) -> set[str]:
    """The departments of these territory codes."""
    if not codes:
        return set()
    return set(session.scalars(select(Territory.department).where(Territory.code.in_(codes))))


def territories_of_departments(session: Session, departments: set[str]) -> set[str]:
    """The territory codes of these departments."""
    if not departments:
        return set()
    return set(session.scalars(select(Territory.code).where(Territory.department.in_(departments))))


def of_scope(
    session: Session, territory: str | None, structure_id: int | None, practitioner_id: int | None
) -> set[str]:
    """The territories a role scope lies within: its own, its structure's department's,
    or those of its practitioner's places of practice."""
    if territory:
        return {territory}
    departments: set[str] = set()
    if structure_id is not None:
        department = session.scalar(
            select(Structure.department).where(Structure.id == structure_id)
        )
        departments |= {department} if department else set()
    if practitioner_id is not None:
        departments |= set(
            session.scalars(
                select(PlaceOfPractice.department).where(
                    PlaceOfPractice.practitioner_id == practitioner_id,
                    PlaceOfPractice.department.is_not(None),
                )
            )
        )
    return territories_of_departments(session, departments)


def holding_a_role_in(session: Session, codes: set[str]) -> ColumnElement[bool]:
    """SQL condition on ``User``: holds a role lying within one of these territories."""
    if not codes:
        return false()
    departments = departments_of(session, codes)
    structures = select(Structure.id).where(Structure.department.in_(departments))
    practitioners = select(PlaceOfPractice.practitioner_id).where(
        PlaceOfPractice.department.in_(departments)
    )
    return exists().where(
        UserRole.user_id == User.id,
        or_(
            UserRole.territory_code.in_(codes),
            UserRole.structure_id.in_(structures),
            UserRole.practitioner_id.in_(practitioners),
        ),
    )
