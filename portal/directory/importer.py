"""Import of the national directory extraction ``PS_LibreAcces_Personne_activite``.

The file (annuaire.sante.fr open data, mirrored on data.gouv.fr) is pipe-separated
UTF-8 text, one line per professional activity, every line ending with ``|``. Columns
are matched by name (case, accents and punctuation ignored), so both the 52-column
layout and the newer 56-column one are read; see
``data/annuaire/ps-libreacces-columns.md`` in the shared notes for the column list.

What one line becomes:

- a :class:`~portal.models.Practitioner`, keyed by "Identification nationale PP"
  (``8`` + RPPS or ``0`` + ADELI);
- a :class:`~portal.models.Structure` when the line names one, keyed by a prefixed
  national id: ``1`` + FINESS site, else ``3`` + SIRET site, else the "Ancien
  identifiant de la structure" (already prefixed), else ``4`` + technical id;
- a :class:`~portal.models.PlaceOfPractice` keyed by ``activity_key``, the SHA-1 of
  the national id, the structure technical id and the address fields; geocoded at
  the commune centre from the INSEE code (or the postcode when the code is empty):
  ``geocode_precision`` is ``"commune"``, ``"postcode"`` (ambiguous postcode, most
  populous commune, no INSEE code kept) or ``"none"`` (no coordinates, with a warning).

Re-importing the same file changes nothing (no UPDATE, ``updated_at`` untouched).
A value present in the database is never blanked by an empty field, and when a
person or a structure appears on several lines, the first line of the file wins
for each field (later lines only fill what is still empty): so the result does
not depend on the batch boundaries and a second import is a no-op. A structure's
``kind`` is only set when it is created (an administrator may refine it: SOS, CPTS).
Rows missing from a newer file are not deleted (no pruning yet).

Speed: rows are read per batch, existing rows of the batch are loaded with a few
``IN`` queries into dicts, then inserted/updated with executemany statements and
committed per batch (≈ 100 000 lines in seconds on SQLite).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from portal.models import PlaceOfPractice, Practitioner, Structure, utcnow
from portal.reference.geo import (
    CITIES_WITH_ARRONDISSEMENTS,
    Commune,
    GeoIndex,
    get_index,
    normalize_department,
    normalize_name,
)

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
_F = {name: i for i, name in enumerate(FIELDS)}

FRANCE = "99000"
MAX_WARNINGS_KEPT = 1000
MAX_PROBLEMS_KEPT = 10000  # every skipped line is counted in ``skipped``
_ANALYZE_FIRST = 2000  # PostgreSQL: ANALYZE once this many rows were created, then at x2
_IN_CHUNK = 900  # bound parameters per IN (…) query, well under every backend's limit
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


@dataclass
class ImportReport:
    """What an import did.

    ``problems`` are the skipped lines, ``warnings`` the lines kept with a caveat (a
    place without coordinates); both hold ``(line_number, message_fr)``, the header
    being line 1. Only the first ``MAX_PROBLEMS_KEPT`` / ``MAX_WARNINGS_KEPT`` are kept;
    ``skipped`` and ``warnings_total`` count them all.
    """

    lines_read: int = 0
    skipped: int = 0
    practitioners_created: int = 0
    practitioners_updated: int = 0
    practitioners_unchanged: int = 0
    places_created: int = 0
    places_updated: int = 0
    places_unchanged: int = 0
    structures_created: int = 0
    structures_updated: int = 0
    structures_unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warnings_total: int = 0  # warnings beyond MAX_WARNINGS_KEPT are counted, not kept
    columns: int = 0
    duration_s: float = 0.0

    def problem_lines(self) -> list[str]:
        """The problems as printed: ``ligne 8 : …``."""
        return [format_line_message(n, m) for n, m in self.problems]

    def warning_lines(self) -> list[str]:
        return [format_line_message(n, m) for n, m in self.warnings]

    def summary(self) -> str:
        """A French summary of the counts, several lines."""

        def counts(created: int, updated: int, unchanged: int, e: str = "") -> str:
            return (f"{_n(created)} créé{e}s, {_n(updated)} mis{e and 'es'} à jour, "
                    f"{_n(unchanged)} inchangé{e}s")  # fmt: skip

        duration = f"{self.duration_s:.1f}".replace(".", ",")
        lines = [
            f"Import terminé en {duration} s : {_n(self.lines_read)} lignes lues "
            f"({self.columns} colonnes), {_n(self.skipped)} ignorées.",
            "Professionnels : " + counts(
                self.practitioners_created, self.practitioners_updated,
                self.practitioners_unchanged),
            "Lieux d'exercice : " + counts(
                self.places_created, self.places_updated, self.places_unchanged),
            "Structures : " + counts(
                self.structures_created, self.structures_updated, self.structures_unchanged,
                "e"),
        ]  # fmt: skip
        if self.warnings_total:
            lines.append(f"Avertissements : {_n(self.warnings_total)}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def format_line_message(number: int, message: str) -> str:
    return f"ligne {number} : {message}"


def _n(value: int) -> str:
    """French thousands separator (narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")


def import_directory(
    session: Session,
    lines: Iterable[str] | str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 5000,
    geo: GeoIndex | None = None,
) -> ImportReport:
    """Import an extraction into the directory tables; idempotent upsert.

    :param lines: the file's lines (header first), or the path of the file.
    :param progress: called after each batch with the number of lines it consumed.
    :param batch_size: lines per batch; each batch is flushed and committed.
    :raises DirectoryFormatError: empty file or unexpected header (nothing imported).
    :raises OSError: the path cannot be read.

    Malformed lines (wrong column count, missing identifier, unknown commune code)
    are reported in ``problems`` and skipped; the import goes on.
    """
    if isinstance(lines, (str, os.PathLike)):
        with open(lines, encoding="utf-8", errors="replace", newline="\n") as stream:
            return import_directory(
                session, stream, progress=progress, batch_size=batch_size, geo=geo
            )
    started = time.perf_counter()
    importer = _Importer(session, geo or get_index(), max(1, batch_size), progress)
    importer.run(iter(lines))
    importer.report.duration_s = time.perf_counter() - started
    return importer.report


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


@dataclass(slots=True)
class _Activity:
    """One parsed line."""

    number: int
    person_key: str
    person: tuple[Any, ...]
    structure_key: str | None
    structure: tuple[Any, ...] | None
    place: tuple[Any, ...] | None  # (activity_key, *PLACE_COLUMNS[2:])


def _limits(model: type, columns: Sequence[str]) -> tuple[int | None, ...]:
    table = model.__table__  # type: ignore[attr-defined]
    return tuple(getattr(table.c[c].type, "length", None) for c in columns)


def _fit(value: Any, limit: int | None) -> Any:
    """Cut a string to its column's length (PostgreSQL refuses longer ones)."""
    if isinstance(value, str) and limit and len(value) > limit:
        return value[:limit]
    return value


def _zero_padded(code: str) -> str:
    """``"1001"`` → ``"01001"``: the leading zero a spreadsheet may have eaten."""
    return "0" + code if len(code) == 4 and code.isdigit() else code


def _empty(value: Any) -> bool:
    return value is None or value == ""


class _Importer:
    def __init__(
        self,
        session: Session,
        geo: GeoIndex,
        batch_size: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.session, self.geo = session, geo
        self.batch_size, self.progress = batch_size, progress
        self.report = ImportReport()
        self.now = utcnow()
        # keys already upserted by an earlier batch of this import: later lines only fill gaps
        self.done_people: set[str] = set()
        self.done_structures: set[str] = set()
        self.person_limits = _limits(Practitioner, PERSON_COLUMNS)
        self.structure_limits = _limits(Structure, STRUCTURE_COLUMNS)
        self.place_limits = _limits(PlaceOfPractice, PLACE_COLUMNS)
        self.national_id_limit = _limits(Practitioner, ("national_id",))[0] or 32
        self.structure_id_limit = _limits(Structure, ("national_id",))[0] or 40
        self.analyze_at = _ANALYZE_FIRST

    # ------------------------------------------------------------------ reading

    def run(self, lines: Iterator[str]) -> None:
        header = next(lines, None)
        if header is None or not header.strip():
            raise DirectoryFormatError("fichier vide : l'en-tête de l'extraction est absent")
        positions, self.report.columns, self.trailing = read_header(header)
        self.width = self.report.columns + (1 if self.trailing else 0)
        # a missing optional column reads the extra "" appended to every line
        self.positions = [self.report.columns if p is None else p for p in positions]
        batch: list[_Activity] = []
        consumed = 0
        for number, raw in enumerate(lines, start=2):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            self.report.lines_read += 1
            consumed += 1
            activity = self.parse(number, line)
            if activity is None:
                self.report.skipped += 1
                continue
            # cut batches between two people, so a person's lines stay together
            if len(batch) >= self.batch_size and (
                activity.person_key != batch[-1].person_key or len(batch) >= 2 * self.batch_size
            ):
                self.flush(batch)
                batch = []
                if self.progress:
                    self.progress(consumed - 1)
                consumed = 1
            batch.append(activity)
        if batch:
            self.flush(batch)
        if self.progress and consumed:
            self.progress(consumed)

    def problem(self, number: int, message: str) -> None:
        if len(self.report.problems) < MAX_PROBLEMS_KEPT:
            self.report.problems.append((number, message))

    def warn(self, number: int, message: str) -> None:
        self.report.warnings_total += 1
        if len(self.report.warnings) < MAX_WARNINGS_KEPT:
            self.report.warnings.append((number, message))

    def parse(self, number: int, line: str) -> _Activity | None:
        parts = line.split("|")
        if len(parts) != self.width or (self.trailing and parts[-1].strip()):
            count = len(parts) - 1 if parts[-1] == "" and len(parts) > 1 else len(parts)
            self.problem(
                number,
                f"{count} colonnes au lieu de {self.report.columns} : ligne ignorée",
            )
            return None
        if not self.trailing:
            parts.append("")
        v = [parts[p].strip() for p in self.positions]
        national_id = v[_F["national_id"]] or (v[_F["id_type"]] + v[_F["id_pp"]])
        if not v[_F["national_id"]] and not (v[_F["id_type"]] and v[_F["id_pp"]]):
            self.problem(number, "identifiant national du professionnel absent : ligne ignorée")
            return None
        if len(national_id) > self.national_id_limit:
            self.problem(number, f"identifiant national trop long « {national_id} » : "
                         "ligne ignorée")  # fmt: skip
            return None
        skill = v[_F["skill"]] if v[_F["skill_type"]] in ("S", "") else ""
        person = tuple(
            _fit(value, limit)
            for value, limit in zip(
                (v[_F["title"]], v[_F["family_name"]], v[_F["given_name"]],
                 v[_F["profession"]], skill or None),
                self.person_limits, strict=True,
            )
        )  # fmt: skip
        has_place = any(
            v[_F[f]] for f in ("tech_id", "finess", "siret", "street", "postal_code", "insee",
                               "city", "old_structure_id")
        )  # fmt: skip
        if not has_place:
            return _Activity(number, national_id, person, None, None, None)

        commune, precision = None, "commune"
        insee = _zero_padded(v[_F["insee"]].upper())
        postcode, city = _zero_padded(v[_F["postal_code"]]), v[_F["city"]]
        if v[_F["country"]] not in ("", FRANCE):
            self.warn(number, f"adresse hors de France (pays {v[_F['country']]}) : "
                      "lieu d'exercice importé sans coordonnées")  # fmt: skip
        elif insee:
            commune = self.geo.by_insee(insee)
            if commune is None:
                self.problem(number, f"code commune inconnu « {insee} » : ligne ignorée")
                return None
        else:
            commune, precision = self.locate(postcode, city, v[_F["department"]])
            if commune is None:
                what = f"code postal « {postcode} » inconnu" if postcode else "code postal absent"
                if city:
                    what += f" (commune « {city} »)"
                self.warn(
                    number,
                    f"code commune absent, {what} : lieu d'exercice importé sans coordonnées",
                )

        department = (
            commune.department if commune else
            normalize_department(v[_F["department"]]) if v[_F["department"]] else None
        )  # fmt: skip
        structure_key, structure = self.structure_of(v, department)
        name = v[_F["legal_name"]] or v[_F["trade_name"]] or v[_F["recipient"]]
        key_source = "\x1f".join(
            [national_id, v[_F["tech_id"]]]
            + [v[_F[f]] for f in ("geo_complement", "street_number", "repetition",
                                  "street_type_code", "street", "distribution",
                                  "postal_code", "insee", "city")]
        )  # fmt: skip
        activity_key = hashlib.sha1(key_source.encode("utf-8")).hexdigest()
        values = (
            name, _address_line(v), postcode,
            commune.insee if commune and precision == "commune" else None,
            city or (commune.name if commune else ""),
            department,
            commune.lat if commune else None, commune.lon if commune else None,
            precision if commune else "none",
            v[_F["phone"]] or v[_F["phone2"]],
        )  # fmt: skip
        fitted = (_fit(x, limit) for x, limit in zip(values, self.place_limits[2:], strict=True))
        place = (activity_key, *fitted)
        return _Activity(number, national_id, person, structure_key, structure, place)

    def locate(self, postcode: str, city: str, department: str) -> tuple[Commune | None, str]:
        """The commune of a line without commune code.

        From the postcode: the commune named ``city``, else the only one, else the most
        populous (``"postcode"`` precision: no INSEE code is kept). Without a known
        postcode (CEDEX codes are not in the table, or none at all): the commune named
        ``city`` if it lies in the postcode's or the line's department.
        """
        candidates = self.geo.by_postcode(postcode) if postcode else []
        # Paris/Lyon/Marseille postcodes also list the whole city: keep the arrondissement
        plain = [c for c in candidates if c.insee not in CITIES_WITH_ARRONDISSEMENTS]
        plain = plain or candidates
        wanted = normalize_name(city)
        for commune in plain:
            if wanted and normalize_name(commune.name) == wanted:
                return commune, "commune"
        if plain:
            return plain[0], "commune" if len(plain) == 1 else "postcode"
        named = self.geo.resolve(city) if city else None
        if named is None:
            return None, "commune"
        if postcode:
            same = any(code[:2] == postcode[:2] for code in named.postal_codes)
        else:
            same = bool(department) and named.department == normalize_department(department)
        return (named, "commune") if same else (None, "commune")

    def structure_of(
        self, v: list[str], department: str | None
    ) -> tuple[str | None, tuple[Any, ...] | None]:
        finess, siret = v[_F["finess"]], v[_F["siret"]]
        old_id, tech_id = v[_F["old_structure_id"]], v[_F["tech_id"]]
        if finess:
            key = "1" + finess
        elif siret:
            key = "3" + siret
        elif old_id:
            key = old_id
        elif tech_id:
            key = "4" + tech_id
        else:
            return None, None
        if len(key) > self.structure_id_limit:
            return None, None
        sector = v[_F["sector"]].upper()
        kind = SECTOR_KINDS.get(sector) or ("ETAB" if sector or finess else "CABINET")
        name = v[_F["legal_name"]] or v[_F["trade_name"]] or v[_F["recipient"]]
        values = (kind, name, department)
        return key, tuple(
            _fit(x, limit) for x, limit in zip(values, self.structure_limits, strict=True)
        )

    # ------------------------------------------------------------------ writing

    def flush(self, batch: list[_Activity]) -> None:
        people: dict[str, tuple[Any, ...]] = {}
        structures: dict[str, tuple[Any, ...]] = {}
        for a in batch:
            people[a.person_key] = _first_filled(people.get(a.person_key), a.person)
            if a.structure_key and a.structure:
                structures[a.structure_key] = _first_filled(
                    structures.get(a.structure_key), a.structure
                )
        person_ids = self.upsert(
            Practitioner, "national_id", PERSON_COLUMNS, people, "practitioners",
            done=self.done_people,
        )  # fmt: skip
        structure_ids = self.upsert(
            Structure, "national_id", STRUCTURE_COLUMNS, structures, "structures",
            done=self.done_structures, insert_only=("kind",),
        )  # fmt: skip
        places: dict[str, tuple[Any, ...]] = {}
        for a in batch:
            if a.place and a.place[0] not in places:
                structure_id = structure_ids.get(a.structure_key) if a.structure_key else None
                places[a.place[0]] = (person_ids[a.person_key], structure_id, *a.place[1:])
        self.upsert(PlaceOfPractice, "activity_key", PLACE_COLUMNS, places, "places")
        self.session.commit()
        self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """ANALYZE the tables on PostgreSQL each time the rows created so far double.

        The server keeps the plan of a prepared statement made while a table was
        small (a sequential scan); as the table grows each ``IN`` lookup would then
        scan it whole (seconds per batch). ANALYZE invalidates those plans, and
        leaves the searches that follow the import with fresh statistics.
        """
        report = self.report
        created = report.practitioners_created + report.places_created
        created += report.structures_created
        if created < self.analyze_at or self.session.get_bind().dialect.name != "postgresql":
            return
        self.analyze_at = 2 * created
        for model in (Practitioner, Structure, PlaceOfPractice):
            self.session.execute(text(f"ANALYZE {model.__tablename__}"))
        self.session.commit()

    def upsert(
        self,
        model: type[Any],
        key_name: str,
        columns: Sequence[str],
        rows: dict[str, tuple[Any, ...]],
        counter: str,
        *,
        done: set[str] | None = None,
        insert_only: Sequence[str] = (),
    ) -> dict[str, int]:
        """Insert the new rows, update the changed ones; return natural key -> id.

        With ``done`` (people, structures): an empty value never blanks a stored one,
        and a key already handled by an earlier batch only gets its gaps filled.
        Without it (places): the line's values replace the stored ones.
        """
        if not rows:
            return {}
        key_column = getattr(model, key_name)
        selected = [getattr(model, c) for c in columns]
        existing: dict[str, tuple[int, tuple[Any, ...]]] = {}
        keys = list(rows)
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            query = select(model.id, key_column, *selected).where(key_column.in_(chunk))
            for row in self.session.execute(query):
                existing[row[1]] = (row[0], tuple(row[2:]))
        frozen = [columns.index(c) for c in insert_only]
        ids: dict[str, int] = {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        created = updated = unchanged = 0
        for key, values in rows.items():
            found = existing.get(key)
            if found is None:
                inserts.append(
                    {key_name: key, **dict(zip(columns, values, strict=True)),
                     "created_at": self.now, "updated_at": self.now}
                )  # fmt: skip
                created += 1
                continue
            pk, old = found
            ids[key] = pk
            seen_before = done is not None and key in done
            if done is None:
                new = list(values)
            elif seen_before:
                new = list(_first_filled(old, values))
            else:
                new = [o if _empty(n) else n for o, n in zip(old, values, strict=True)]
            for i in frozen:
                new[i] = old[i]
            if tuple(new) != old:
                updates.append(
                    {"id": pk, **dict(zip(columns, new, strict=True)), "updated_at": self.now}
                )
                updated += 1
            elif not seen_before:
                unchanged += 1
        if done is not None:
            done.update(rows)
        if inserts:
            # Core, not ORM bulk insert: the ORM splits the rows into one statement per run
            # of rows with the same non-None keys (slow, and quadratic with RETURNING).
            table = model.__table__
            statement = insert(table).returning(table.c.id, table.c[key_name])
            for pk, key in self.session.execute(statement, inserts):
                ids[key] = pk
        if updates:
            self.session.execute(update(model), updates)
        report = self.report
        for suffix, count in (("created", created), ("updated", updated),
                              ("unchanged", unchanged)):  # fmt: skip
            attribute = f"{counter}_{suffix}"
            setattr(report, attribute, getattr(report, attribute) + count)
        return ids


def _first_filled(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> tuple[Any, ...]:
    """Field by field, the old value unless it is empty."""
    if old is None:
        return new
    return tuple(n if _empty(o) else o for o, n in zip(old, new, strict=True))


def _address_line(v: list[str]) -> str:
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
