"""The demo identities: who logs in to ``sas-portal demo``, and as what.

Each one is a Pro Santé Connect identity on the local provider
(:class:`portal.devtools.oidc.LocalProvider`, a button on its authorization
page) and a portal account with the same national id and its roles. The
structure and practitioner they are scoped to are taken from the demo
directory, so this runs after it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.devtools.demo_directory import demo_national_id
from portal.models import PlaceOfPractice, Practitioner, Structure, Territory, User, UserRole

if TYPE_CHECKING:
    from portal.devtools.oidc import LocalProvider, ProviderUser

DEMO_CLIENT_ID = "sas-portal-demo"


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    """One person of the demo: their PSC identity and the roles of their account."""

    sub: str
    label: str
    national_id: str
    given_name: str
    family_name: str
    #: (role, scope) pairs, the scope as UserRole columns (territory_code, structure_id …)
    grants: tuple[tuple[str, dict[str, Any]], ...]
    specialty: str | None = "SM54"

    @property
    def email(self) -> str:
        """Editors require one for regulator accounts (FrPractitionerRegul)."""
        local = f"{self.given_name}.{self.family_name}".lower().replace(" ", "-")
        ascii_local = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode()
        return f"{ascii_local}.{self.sub}@demo.sas.invalid"

    def provider_user(self) -> ProviderUser:
        from portal.devtools.oidc import ProviderUser, psc_claims

        claims = psc_claims(
            self.national_id, self.given_name, self.family_name, specialty=self.specialty
        )
        return ProviderUser(self.sub, claims, label=f"{self.label} — {self.display_name}")

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


def _territory(session: Session, department: str) -> str | None:
    return session.scalar(select(Territory.code).where(Territory.department == department))


def _structure(session: Session, kind: str, department: str) -> Structure | None:
    """A demo structure of ``kind``, in ``department`` when there is one."""
    return session.scalars(
        select(Structure)
        .where(Structure.kind == kind, Structure.is_demo)
        .order_by((Structure.department == department).desc(), Structure.national_id)
    ).first()


def _practitioner(session: Session, department: str) -> Practitioner | None:
    """A participating demo GP of ``department`` (else any demo practitioner)."""
    return session.scalars(
        select(Practitioner)
        .join(PlaceOfPractice, PlaceOfPractice.practitioner_id == Practitioner.id)
        .where(Practitioner.is_demo)
        .order_by(
            (PlaceOfPractice.department == department).desc(),
            Practitioner.sas_participation.desc(),
            (Practitioner.specialty_code == "SM54").desc(),
            Practitioner.national_id,
        )
    ).first()


def demo_identities(session: Session) -> list[DemoIdentity]:
    """The demo identities, scoped to what the demo directory holds.

    An identity whose structure, practitioner or territory is missing is left out.
    """
    identities: list[DemoIdentity] = []
    for department, sub, given, family in (
        ("47", "regulateur-sas47", "Jeanne", "Marius"),
        ("92", "regulateur-sas92", "Karim", "Benali"),
    ):
        territory = _territory(session, department)
        if territory:
            identities.append(
                DemoIdentity(
                    sub, f"Régulateur {territory}", demo_national_id(department, 99001),
                    given, family, (("regulateur", {"territory_code": territory}),),
                )
            )  # fmt: skip
    for kind, sub, index, given, family in (
        ("SOS", "gestionnaire-sos", 99002, "Sophie", "Lacaze"),
        ("CPTS", "gestionnaire-cpts", 99003, "Thomas", "Durand"),
    ):
        structure = _structure(session, kind, "47")
        if structure is not None:
            identities.append(
                DemoIdentity(
                    sub, f"Gestionnaire de {structure.name}", demo_national_id("47", index),
                    given, family, (("gestionnaire_structure", {"structure_id": structure.id}),),
                )
            )  # fmt: skip
    practitioner = _practitioner(session, "47")
    if practitioner is not None:
        identities.append(
            DemoIdentity(
                "ps-effecteur", "Professionnel de santé (effecteur)", practitioner.national_id,
                practitioner.given_name, practitioner.family_name,
                (("effecteur", {"practitioner_id": practitioner.id}),),
                specialty=practitioner.specialty_code,
            )
        )  # fmt: skip
    identities.append(
        DemoIdentity(
            "administrateur", "Administrateur national", demo_national_id("47", 99004),
            "Claire", "Fontaine", (("administrateur", {}),), specialty=None,
        )
    )  # fmt: skip
    return identities


def ensure_users(session: Session, identities: Sequence[DemoIdentity]) -> int:
    """Create the account of each identity that has none (by national id). Flushes.

    :return: how many accounts were created.
    """
    created = 0
    for identity in identities:
        taken = or_(User.national_id == identity.national_id, User.email == identity.email)
        if session.scalar(select(User.id).where(taken)):
            continue
        user = User(
            national_id=identity.national_id,
            email=identity.email,
            given_name=identity.given_name,
            family_name=identity.family_name,
        )
        user.roles.extend(UserRole(role=role, **scope) for role, scope in identity.grants)
        session.add(user)
        created += 1
    session.flush()
    return created


def start_provider(identities: Sequence[DemoIdentity], port: int = 0) -> LocalProvider:
    """The local Pro Santé Connect, started, with a button per identity."""
    from portal.devtools.oidc import LocalProvider

    return LocalProvider([i.provider_user() for i in identities], port=port).start()


def describe(identities: Sequence[DemoIdentity]) -> list[str]:
    """One line per identity, for the demo's start-up message."""
    return [f"  {i.sub:<18} {i.national_id}  {i.display_name:<16} {i.label}" for i in identities]
