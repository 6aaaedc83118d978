"""Synthetic national-directory extractions, for tests and benchmarks.

Fictitious people in the exact ``PS_LibreAcces_Personne_activite`` 52-column
format (national ids ``898…`` with a valid Luhn key, fictitious phone ranges), on
real communes weighted by population. ``sas-portal directory synth`` writes one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from portal.devtools.demo_directory import (
    FAMILY_NAMES,
    GENERAL_PRACTICE,
    GIVEN_NAMES_F,
    GIVEN_NAMES_M,
    GP_SHARE,
    OTHER_SPECIALTIES,
    STREET_NAMES,
    STREET_TYPES,
    _of,
    demo_finess,
    demo_siret,
    fictitious_phone,
    luhn_check_digit,
)
from portal.directory.columns import HEADER_52
from portal.reference.geo import CITIES_WITH_ARRONDISSEMENTS, Commune, GeoIndex, get_index
from portal.reference.terminology import specialties

_PROFESSIONS = (  # code, label, weight, title, identifier type
    ("10", "Médecin", 55, "DR", "8"), ("60", "Infirmier", 14, "", "8"),
    ("70", "Masseur-Kinésithérapeute", 10, "", "8"), ("50", "Sage-Femme", 4, "", "8"),
    ("40", "Chirurgien-Dentiste", 5, "DR", "8"), ("21", "Pharmacien", 5, "DR", "8"),
    ("28", "Opticien-Lunetier", 4, "", "0"), ("26", "Audioprothésiste", 3, "", "0"),
)  # fmt: skip
_PROFESSION_CUMULATIVE = list(itertools.accumulate(p[2] for p in _PROFESSIONS))
_SHARED_SECTORS = (  # code, label, weight, identifier kind
    ("SA08", "Cabinet de groupe", 45, "cabinet"), ("SA09", "Exercice en société", 15, "siret"),
    ("SA05", "Centre de santé", 8, "finess"),
    ("SA01", "Etablissement public de santé", 20, "finess"),
    ("SA04", "Etablissement privé non PSPH", 12, "finess"),
)  # fmt: skip
_SHARED_CUMULATIVE = list(itertools.accumulate(s[2] for s in _SHARED_SECTORS))
_STREET_CODES = {"rue": "R", "avenue": "AV", "boulevard": "BD", "place": "PL", "chemin": "CHE",
                 "allée": "ALL", "impasse": "IMP", "route": "RTE"}  # fmt: skip


def synthetic_rows(count: int, seed: int, geo: GeoIndex) -> Iterator[dict[str, str]]:
    """``count`` fictitious extraction rows, as ``{column name: value}`` dicts.

    About 15 % of the people have two activities; 45 % of the activities are in an
    individual practice, the others in a shared structure (group practice, company,
    health centre, hospital). About 3 % of the structures have no commune code (only
    a postcode), like many real lines, and 0.3 % have no postcode nor commune at all.
    """
    rng = random.Random(f"sas-portal-synthetic:{seed}")
    communes = [c for c in geo if c.population > 0 and c.insee not in CITIES_WITH_ARRONDISSEMENTS]
    cumulative = list(itertools.accumulate(c.population for c in communes))
    known = specialties()
    others = [(code, w) for code, w in OTHER_SPECIALTIES if code in known]
    other_cumulative = list(itertools.accumulate(w for _, w in others))
    shared: dict[int, dict[str, str]] = {}
    pool = max(1, count // 6)
    produced = person = 0
    while produced < count:
        person += 1
        identity = _synthetic_person(rng, person, known, others, other_cumulative)
        for activity in range(1 if rng.random() < 0.85 else 2):
            if produced >= count:
                break
            if rng.random() < 0.45:
                site = _synthetic_site(
                    rng,
                    communes,
                    cumulative,
                    geo,
                    ("SA07", "Cabinet individuel", 0, "cabinet"),
                    person * 10 + activity,
                )
            else:
                number = rng.randrange(pool)
                if number not in shared:
                    local = random.Random(f"sas-portal-synthetic:{seed}:site:{number}")
                    sector = local.choices(_SHARED_SECTORS, cum_weights=_SHARED_CUMULATIVE)[0]
                    shared[number] = _synthetic_site(
                        local, communes, cumulative, geo, sector, 10**9 + number
                    )
                site = shared[number]
            produced += 1
            yield {**identity, **site}


def _synthetic_person(
    rng: random.Random,
    number: int,
    known: dict[str, str],
    others: list[tuple[str, int]],
    other_cumulative: list[int],
) -> dict[str, str]:
    profession = rng.choices(_PROFESSIONS, cum_weights=_PROFESSION_CUMULATIVE)[0]
    code, label, _, title, id_type = profession
    if id_type == "8":
        body = f"98{number:08d}"
        identifier = body + luhn_check_digit(body)
    else:
        identifier = f"9{number:08d}"
    female = rng.random() < 0.55
    row = {
        "Type d'identifiant PP": id_type,
        "Identifiant PP": identifier,
        "Identification nationale PP": id_type + identifier,
        "Code civilité d'exercice": title,
        "Libellé civilité d'exercice": "Docteur" if title else "",
        "Code civilité": "MME" if female else "M",
        "Libellé civilité": "Madame" if female else "Monsieur",
        "Nom d'exercice": rng.choice(FAMILY_NAMES).upper(),
        "Prénom d'exercice": rng.choice(GIVEN_NAMES_F if female else GIVEN_NAMES_M),
        "Code profession": code,
        "Libellé profession": label,
        "Code catégorie professionnelle": "C",
        "Libellé catégorie professionnelle": "Civil",
    }
    if code == "10":
        specialty = GENERAL_PRACTICE
        if rng.random() >= GP_SHARE and others:
            specialty = rng.choices(others, cum_weights=other_cumulative)[0][0]
        row |= {
            "Code type savoir-faire": "S", "Libellé type savoir-faire": "Spécialité ordinale",
            "Code savoir-faire": specialty,
            "Libellé savoir-faire": known.get(specialty, "").removesuffix(" (SM)"),
        }  # fmt: skip
    liberal = rng.random() < 0.8
    row["Code mode exercice"] = "L" if liberal else "S"
    row["Libellé mode exercice"] = "Libéral" if liberal else "Salarié"
    return row


def _synthetic_site(
    rng: random.Random,
    communes: list[Commune],
    cumulative: list[int],
    geo: GeoIndex,
    sector: tuple[str, str, int, str],
    number: int,
) -> dict[str, str]:
    commune = rng.choices(communes, cum_weights=cumulative)[0]
    dep = commune.department
    postcode = rng.choice(commune.postal_codes) if commune.postal_codes else ""
    street_type = rng.choice(STREET_TYPES)
    code, label, _, kind = sector
    row = {
        "Numéro Voie (coord. structure)": str(rng.randint(1, 140)),
        "Code type de voie (coord. structure)": _STREET_CODES[street_type],
        "Libellé type de voie (coord. structure)": street_type.capitalize(),
        "Libellé Voie (coord. structure)": rng.choice(STREET_NAMES).upper(),
        "Bureau cedex (coord. structure)": f"{postcode} {commune.name.upper()}",
        "Code postal (coord. structure)": postcode,
        "Code commune (coord. structure)": commune.insee,
        "Libellé commune (coord. structure)": commune.name,
        "Code pays (coord. structure)": "99000",
        "Libellé pays (coord. structure)": "France",
        "Téléphone (coord. structure)": fictitious_phone(rng, dep, spaced=False),
        "Code Département (structure)": dep,
        "Autorité d'enregistrement": "ARS/CPAM/CPAM",
        "Code secteur d'activité": code,
        "Libellé secteur d'activité": label,
    }
    with contextlib.suppress(KeyError):
        row["Libellé Département (structure)"] = geo.department_radius(dep).label
    if kind == "cabinet":
        row["Identifiant technique de la structure"] = f"R1{number:013d}"
        if code == "SA08":
            row["Raison sociale site"] = f"CABINET MEDICAL {_of(commune.name).upper()}"
            row["Ancien identifiant de la structure"] = f"0{dep}9{number % 10**6:06d}"
    elif kind == "siret":
        siret = demo_siret(dep, number % 10**6, series=1)
        row |= {"Numéro SIRET site": siret, "Numéro SIREN site": siret[:9],
                "Identifiant technique de la structure": "C" + siret,
                "Raison sociale site": f"SELARL DES {rng.choice(STREET_NAMES).upper()}",
                "Ancien identifiant de la structure": "3" + siret}  # fmt: skip
    else:
        finess = demo_finess(dep, 5 + number % 5, number // 5 % 10**4)
        name = "CENTRE DE SANTE" if code == "SA05" else "CENTRE HOSPITALIER"
        row |= {"Numéro FINESS site": finess, "Numéro FINESS établissement juridique": finess,
                "Identifiant technique de la structure": "F" + finess,
                "Raison sociale site": f"{name} {_of(commune.name).upper()}",
                "Ancien identifiant de la structure": "1" + finess}  # fmt: skip
    draw = rng.random()
    if draw < 0.003:  # an address without postcode nor commune: kept without coordinates
        for column in ("Code commune", "Code postal", "Libellé commune", "Bureau cedex"):
            row[f"{column} (coord. structure)"] = ""
    elif draw < 0.03:
        row["Code commune (coord. structure)"] = ""
    return row


BAD_LINE_KINDS = ("columns", "commune", "identifier")


def write_synthetic_extraction(
    path: str | os.PathLike[str],
    lines: int,
    seed: int = 0,
    bad_lines: Iterable[int] = (),
) -> Path:
    """Write a fictitious extraction in the exact 52-column format, for tests and benchmarks.

    :param lines: number of data lines (the header comes on top).
    :param bad_lines: file line numbers (header = line 1) to break on purpose; in
        increasing order they get, in turn, a wrong column count, an unknown commune
        code (``00000``) and an empty identifier.
    """
    bad = {number: BAD_LINE_KINDS[i % 3] for i, number in enumerate(sorted(set(bad_lines)))}
    target = Path(path)
    with open(target, "w", encoding="utf-8", newline="\n") as out:
        out.write("|".join(HEADER_52) + "|\n")
        for number, row in enumerate(synthetic_rows(lines, seed, get_index()), start=2):
            kind = bad.get(number)
            if kind == "commune":
                row["Code commune (coord. structure)"] = "00000"
            elif kind == "identifier":
                for column in HEADER_52[:3]:
                    row[column] = ""
            values = [row.get(column, "") for column in HEADER_52]
            if kind == "columns":
                del values[-1]
            out.write("|".join(values) + "|\n")
    return target
