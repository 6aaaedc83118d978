"""The columns of the national directory extraction and what our tables can hold.

Column aliases (matched by name, case, accents and punctuation ignored, so both the
52-column layout and the newer 56-column one are read), the header reader, the
length limits of the target columns, and the small helpers that turn address
columns into one line. No database access: the limits are read from the models'
table definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from portal.models import PlaceOfPractice, Practitioner, Structure
from portal.reference.geo import normalize_name

#: The exact header of the 52-column extraction (without the trailing ``|``).
HEADER_52: tuple[str, ...] = (
    "Type d'identifiant PP", "Identifiant PP", "Identification nationale PP",
    "Code civilité d'exercice", "Libellé civilité d'exercice", "Code civilité",
    "Libellé civilité", "Nom d'exercice", "Prénom d'exercice", "Code profession",
    "Libellé profession", "Code catégorie professionnelle",
    "Libellé catégorie professionnelle", "Code type savoir-faire",
    "Libellé type savoir-faire", "Code savoir-faire", "Libellé savoir-faire",
    "Code mode exercice", "Libellé mode exercice", "Numéro SIRET site",
    "Numéro SIREN site", "Numéro FINESS site", "Numéro FINESS établissement juridique",
    "Identifiant technique de la structure", "Raison sociale site",
    "Enseigne commerciale site", "Complément destinataire (coord. structure)",
    "Complément point géographique (coord. structure)", "Numéro Voie (coord. structure)",
    "Indice répétition voie (coord. structure)", "Code type de voie (coord. structure)",
    "Libellé type de voie (coord. structure)", "Libellé Voie (coord. structure)",
    "Mention distribution (coord. structure)", "Bureau cedex (coord. structure)",
    "Code postal (coord. structure)", "Code commune (coord. structure)",
    "Libellé commune (coord. structure)", "Code pays (coord. structure)",
    "Libellé pays (coord. structure)", "Téléphone (coord. structure)",
    "Téléphone 2 (coord. structure)", "Télécopie (coord. structure)",
    "Adresse e-mail (coord. structure)", "Code Département (structure)",
    "Libellé Département (structure)", "Ancien identifiant de la structure",
    "Autorité d'enregistrement", "Code secteur d'activité", "Libellé secteur d'activité",
    "Code section tableau pharmaciens", "Libellé section tableau pharmaciens",
)  # fmt: skip

# Our field -> the header names it may have (compared after normalize_name).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "id_type": ("Type d'identifiant PP",),
    "id_pp": ("Identifiant PP",),
    "national_id": ("Identification nationale PP",),
    "title": ("Code civilité d'exercice", "Code civilité exercice"),
    "family_name": ("Nom d'exercice",),
    "given_name": ("Prénom d'exercice",),
    "profession": ("Code profession",),
    "skill_type": ("Code type savoir-faire",),
    "skill": ("Code savoir-faire",),
    "siret": ("Numéro SIRET site",),
    "finess": ("Numéro FINESS site",),
    "tech_id": ("Identifiant technique de la structure",),
    "legal_name": ("Raison sociale site",),
    "trade_name": ("Enseigne commerciale site",),
    "recipient": ("Complément destinataire (coord. structure)",),
    "geo_complement": ("Complément point géographique (coord. structure)",),
    "street_number": ("Numéro Voie (coord. structure)",),
    "repetition": ("Indice répétition voie (coord. structure)",),
    "street_type_code": ("Code type de voie (coord. structure)",),
    "street_type": ("Libellé type de voie (coord. structure)",),
    "street": ("Libellé Voie (coord. structure)",),
    "distribution": ("Mention distribution (coord. structure)",),
    "postal_code": ("Code postal (coord. structure)",),
    "insee": ("Code commune (coord. structure)",),
    "city": ("Libellé commune (coord. structure)",),
    "country": ("Code pays (coord. structure)",),
    "phone": ("Téléphone (coord. structure)",),
    "phone2": ("Téléphone 2 (coord. structure)",),
    "department": ("Code Département (structure)", "Code département (coord. structure)"),
    "old_structure_id": ("Ancien identifiant de la structure",),
    "sector": ("Code secteur d'activité",),
}
REQUIRED_FIELDS = ("national_id", "family_name", "postal_code", "insee")
FIELDS = tuple(COLUMN_ALIASES)
#: Our field -> its index in a parsed line's values.
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
_F = FIELD_INDEX

FRANCE = "99000"
_REPETITIONS = {"B": "bis", "T": "ter", "Q": "quater", "C": "quinquies"}
# TRE_R02 activity sector -> Structure.kind (anything else with a code is an establishment)
SECTOR_KINDS = {"SA05": "CDS", "SA07": "CABINET", "SA08": "CABINET", "SA09": "CABINET",
                "SA52": "MSP", "SA63": "CPTS"}  # fmt: skip

PERSON_COLUMNS = ("title", "family_name", "given_name", "profession_code", "specialty_code")
STRUCTURE_COLUMNS = ("kind", "name", "department")
PLACE_COLUMNS = (
    "practitioner_id", "structure_id", "name", "address_line", "postal_code", "insee_code",
    "city", "department", "lat", "lon", "geocode_precision", "phone",
)  # fmt: skip


class DirectoryFormatError(ValueError):
    """The file is not a ``PS_LibreAcces_Personne_activite`` extraction (message in French)."""


def read_header(line: str) -> tuple[list[int | None], int, bool]:
    """Map our fields to column positions. Returns ``(positions, column count, trailing |)``.

    :raises DirectoryFormatError: a required column is missing.
    """
    text = line.lstrip("\ufeff").rstrip("\r\n")
    names = text.split("|")
    trailing = len(names) > 1 and names[-1].strip() == ""
    if trailing:
        names.pop()
    folded: dict[str, int] = {}
    for i, name in enumerate(names):
        folded.setdefault(normalize_name(name), i)
    positions: list[int | None] = []
    for aliases in COLUMN_ALIASES.values():
        found = [folded[normalize_name(a)] for a in aliases if normalize_name(a) in folded]
        positions.append(found[0] if found else None)
    missing = [COLUMN_ALIASES[f][0] for f in REQUIRED_FIELDS if positions[_F[f]] is None]
    if missing:
        raise DirectoryFormatError(
            "en-tête inattendu : ce fichier n'est pas une extraction "
            "PS_LibreAcces_Personne_activite de l'annuaire santé (colonnes attendues "
            "absentes : " + ", ".join(f"« {m} »" for m in missing) + ")"
        )
    return positions, len(names), trailing


def column_limits(model: type, columns: Sequence[str]) -> tuple[int | None, ...]:
    """The maximum length of each of ``columns`` of ``model`` (``None``: unbounded)."""
    table = model.__table__  # type: ignore[attr-defined]
    return tuple(getattr(table.c[c].type, "length", None) for c in columns)


def fit(value: Any, limit: int | None) -> Any:
    """Cut a string to its column's length (PostgreSQL refuses longer ones)."""
    if isinstance(value, str) and limit and len(value) > limit:
        return value[:limit]
    return value


def zero_padded(code: str) -> str:
    """``"1001"`` → ``"01001"``: the leading zero a spreadsheet may have eaten."""
    return "0" + code if len(code) == 4 and code.isdigit() else code


class FieldLimits:
    """The length limits of the columns an import writes, read once per import."""

    def __init__(self) -> None:
        self.person = column_limits(Practitioner, PERSON_COLUMNS)
        self.structure = column_limits(Structure, STRUCTURE_COLUMNS)
        self.place = column_limits(PlaceOfPractice, PLACE_COLUMNS)
        self.national_id = column_limits(Practitioner, ("national_id",))[0] or 32
        self.structure_id = column_limits(Structure, ("national_id",))[0] or 40


def address_line(v: list[str]) -> str:
    """``"Résidence du Parc, 12 bis Rue de la Paix, BP 12"`` from the address columns."""
    repetition = v[_F["repetition"]]
    street = " ".join(
        part for part in (
            v[_F["street_number"]],
            _REPETITIONS.get(repetition.upper(), repetition.lower()),
            v[_F["street_type"]] or v[_F["street_type_code"]],
            v[_F["street"]],
        ) if part
    )  # fmt: skip
    parts = (v[_F["geo_complement"]], street, v[_F["distribution"]])
    return ", ".join(part for part in parts if part)
