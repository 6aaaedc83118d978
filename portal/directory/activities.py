"""One line of the directory extraction parsed into a person, a structure and a place.

The parser matches the columns found by :func:`~portal.directory.columns.read_header`,
geocodes the place at its commune centre (see :mod:`portal.directory.importer` for
the rules) and reports skipped lines and warnings in the import's
:class:`~portal.directory.report.ImportReport`. No database access.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from portal.directory.columns import (
    FIELD_INDEX as _F,
)
from portal.directory.columns import (
    FRANCE,
    SECTOR_KINDS,
    FieldLimits,
    address_line,
    fit,
    zero_padded,
)
from portal.directory.report import ImportReport
from portal.reference.geo import (
    CITIES_WITH_ARRONDISSEMENTS,
    Commune,
    GeoIndex,
    normalize_department,
    normalize_name,
)


@dataclass(slots=True)
class Activity:
    """One parsed line."""

    number: int
    person_key: str
    person: tuple[Any, ...]
    structure_key: str | None
    structure: tuple[Any, ...] | None
    place: tuple[Any, ...] | None  # (activity_key, *PLACE_COLUMNS[2:])


class LineParser:
    """Parses the lines of one file, whose header gave ``positions`` and ``columns``."""

    def __init__(
        self,
        geo: GeoIndex,
        report: ImportReport,
        positions: list[int | None],
        columns: int,
        trailing: bool,
    ) -> None:
        self.geo, self.report = geo, report
        self.limits = FieldLimits()
        self.columns, self.trailing = columns, trailing
        self.width = columns + (1 if trailing else 0)
        # a missing optional column reads the extra "" appended to every line
        self.positions = [columns if p is None else p for p in positions]

    def problem(self, number: int, message: str) -> None:
        """Report line ``number`` as skipped."""
        self.report.problem(number, message)

    def warn(self, number: int, message: str) -> None:
        """Report a caveat about line ``number``, which is kept."""
        self.report.warn(number, message)

    def parse(self, number: int, line: str) -> Activity | None:
        """The activity of line ``number``, or None (the problem reported) to skip it."""
        parts = line.split("|")
        if len(parts) != self.width or (self.trailing and parts[-1].strip()):
            count = len(parts) - 1 if parts[-1] == "" and len(parts) > 1 else len(parts)
            self.problem(
                number,
                f"{count} colonnes au lieu de {self.columns} : ligne ignorée",
            )
            return None
        if not self.trailing:
            parts.append("")
        v = [parts[p].strip() for p in self.positions]
        national_id = v[_F["national_id"]] or (v[_F["id_type"]] + v[_F["id_pp"]])
        if not v[_F["national_id"]] and not (v[_F["id_type"]] and v[_F["id_pp"]]):
            self.problem(number, "identifiant national du professionnel absent : ligne ignorée")
            return None
        if len(national_id) > self.limits.national_id:
            self.problem(number, f"identifiant national trop long « {national_id} » : "
                         "ligne ignorée")  # fmt: skip
            return None
        skill = v[_F["skill"]] if v[_F["skill_type"]] in ("S", "") else ""
        person = tuple(
            fit(value, limit)
            for value, limit in zip(
                (v[_F["title"]], v[_F["family_name"]], v[_F["given_name"]],
                 v[_F["profession"]], skill or None),
                self.limits.person, strict=True,
            )
        )  # fmt: skip
        has_place = any(
            v[_F[f]] for f in ("tech_id", "finess", "siret", "street", "postal_code", "insee",
                               "city", "old_structure_id")
        )  # fmt: skip
        if not has_place:
            return Activity(number, national_id, person, None, None, None)

        commune, precision = None, "commune"
        insee = zero_padded(v[_F["insee"]].upper())
        postcode, city = zero_padded(v[_F["postal_code"]]), v[_F["city"]]
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
            name, address_line(v), postcode,
            commune.insee if commune and precision == "commune" else None,
            city or (commune.name if commune else ""),
            department,
            commune.lat if commune else None, commune.lon if commune else None,
            precision if commune else "none",
            v[_F["phone"]] or v[_F["phone2"]],
        )  # fmt: skip
        fitted = (fit(x, limit) for x, limit in zip(values, self.limits.place[2:], strict=True))
        place = (activity_key, *fitted)
        return Activity(number, national_id, person, structure_key, structure, place)

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
        """The structure's prefixed national id and its row values, if the line names one."""
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
        if len(key) > self.limits.structure_id:
            return None, None
        sector = v[_F["sector"]].upper()
        kind = SECTOR_KINDS.get(sector) or ("ETAB" if sector or finess else "CABINET")
        name = v[_F["legal_name"]] or v[_F["trade_name"]] or v[_F["recipient"]]
        values = (kind, name, department)
        return key, tuple(
            fit(x, limit) for x, limit in zip(values, self.limits.structure, strict=True)
        )

    # ------------------------------------------------------------------ writing
