"""The identities the sandboxes give practitioners: :class:`PractitionerInfo`, and a
plausible, deterministic one for any national id (:func:`generated_practitioner`)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PractitionerInfo:
    """What a sandbox says about a practitioner (keyed by prefixed national id).

    ``structure`` is the prefixed IDNST of the place of practice; ``cpts`` the
    prefixed IDNST (``1``+FINESS; a bare 9-digit FINESS is accepted) of the
    CPTS the practitioner publishes slots for (CPTS flow only).
    """

    family_name: str
    given_name: str
    specialty: str = "SM54"
    line: str = ""
    postal_code: str = ""
    city: str = ""
    structure: str = ""
    phone: str = ""
    tz: str = "Europe/Paris"
    cpts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        ids = tuple("1" + c if len(c) == 9 else c for c in self.cpts)
        object.__setattr__(self, "cpts", ids)

    @property
    def display_name(self) -> str:
        return " ".join(p for p in ("Dr", self.given_name, self.family_name) if p)


_FAMILY = (
    "Martin",
    "Bernard",
    "Dubois",
    "Moreau",
    "Laurent",
    "Girard",
    "Bonnet",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Faure",
    "Mercier",
    "Blanc",
    "Garnier",
    "Chevalier",
)
_GIVEN = (
    "Camille",
    "Claire",
    "Julie",
    "Sophie",
    "Nicolas",
    "Julien",
    "Thomas",
    "Pierre",
    "Antoine",
    "Hélène",
    "Mathilde",
    "Guillaume",
    "Sébastien",
    "Inès",
    "Yann",
    "Lucie",
)
_STREETS = (
    "rue des Tilleuls",
    "avenue du Moulin",
    "rue de la Fontaine",
    "place des Écoles",
    "boulevard des Vignes",
    "chemin du Verger",
    "allée des Acacias",
    "rue du Stade",
)
#: Real communes for generated addresses (the streets are made up).
TOWNS = (
    ("47000", "Agen"),
    ("92100", "Boulogne-Billancourt"),
    ("35000", "Rennes"),
    ("31000", "Toulouse"),
    ("33000", "Bordeaux"),
    ("69003", "Lyon"),
)


def generated_practitioner(seed: int, national_id: str) -> PractitionerInfo:
    """A plausible, deterministic identity for a national id the sandbox was not told about."""
    rng = random.Random(f"{seed}:{national_id}:profil")
    postal_code, city = rng.choice(TOWNS)
    return PractitionerInfo(
        family_name=rng.choice(_FAMILY),
        given_name=rng.choice(_GIVEN),
        line=f"{rng.randint(1, 120)} {rng.choice(_STREETS)}",
        postal_code=postal_code,
        city=city,
        structure="3999" + f"{rng.randrange(10**11):011d}",
        phone="+3319900" + f"{rng.randrange(10**4):04d}",
    )
