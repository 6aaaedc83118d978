"""National terminologies (NOS): specialties TRE_R38, professions TRE_G15, slot kinds TRE_R314.

Read once per process from the ``code,label`` CSVs of ``portal/data/nos/`` (built by
``portal/data/build_nos.py``; sources in ``portal/data/NOTICE``). The returned dicts
are fresh copies: callers may keep or change them.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib.resources import files

from portal.reference.geo import normalize_name


@functools.cache
def _table(name: str) -> dict[str, str]:
    # importlib.resources, so the data is found inside an installed wheel too
    text = (files("portal") / "data" / "nos" / f"{name}.csv").read_text(encoding="utf-8")
    return {row["code"]: row["label"] for row in csv.DictReader(io.StringIO(text))}


@functools.cache
def _folded_specialties() -> tuple[tuple[str, str, str], ...]:
    """``(code, label, folded label)`` triples, in label order, for :func:`search_specialties`."""
    rows = ((code, label, normalize_name(label)) for code, label in _table("specialties").items())
    return tuple(sorted(rows, key=lambda row: (row[2], row[0])))


def specialties() -> dict[str, str]:
    """TRE_R38 ordinal specialties: code (``"SM54"``) → label (``"Médecine générale (SM)"``)."""
    return dict(_table("specialties"))


def professions() -> dict[str, str]:
    """TRE_G15 health professions: code (``"10"``) → label (``"Médecin"``)."""
    return dict(_table("professions"))


def slot_kinds() -> dict[str, str]:
    """TRE_R314 slot kinds (``PUBLIC``, ``PRO``, ``SNP`` and the guide's ``CPTS``) → label."""
    return dict(_table("slot_kinds"))


def specialty_label(code: str) -> str:
    """Label of a TRE_R38 code; an unknown code is returned as is, so a page never blanks."""
    return _table("specialties").get(code.strip().upper(), code)


def profession_label(code: str) -> str:
    """Label of a TRE_G15 code; an unknown code is returned as is."""
    return _table("professions").get(code.strip(), code)


def slot_kind_label(code: str) -> str:
    """Label of a TRE_R314 code; an unknown code is returned as is."""
    return _table("slot_kinds").get(code.strip().upper(), code)


def search_specialties(text: str, limit: int = 10) -> list[tuple[str, str]]:
    """Specialties whose label contains ``text`` (accents, case, punctuation ignored) or whose
    code is ``text``, as ``(code, label)`` pairs.

    Order: exact code, then labels starting with the text, then labels with a word starting
    with it, then any other substring match; alphabetical within each group. A blank text
    gives ``[]``.
    """
    query = normalize_name(text)
    if not query or limit <= 0:
        return []
    ranked: list[tuple[int, str, str]] = []
    for code, label, folded in _folded_specialties():
        if code.lower() == query:
            group = 0
        elif folded.startswith(query):
            group = 1
        elif f" {query}" in f" {folded}":
            group = 2
        elif query in folded:
            group = 3
        else:
            continue
        ranked.append((group, code, label))
    ranked.sort(key=lambda row: row[0])  # stable: keeps label order within a group
    return [(code, label) for _, code, label in ranked[:limit]]


def display_specialty(code: str) -> str:
    """A specialty as regulators read it: doctors' labels without the ``(SM)`` suffix.

    Dentists' (SCD) and nurses' (SI) specialties keep their suffix, which is what
    tells "Chirurgie orale (SCD)" from the doctors' "Chirurgie orale".
    """
    label = specialty_label(code)
    return label.removesuffix(" (SM)") if code.upper().startswith("SM") else label


@functools.cache
def _specialty_choices() -> tuple[tuple[str, str], ...]:
    codes = _table("specialties")
    doctors = sorted(
        (c for c in codes if c.startswith("SM")), key=lambda c: normalize_name(display_specialty(c))
    )
    others = sorted(
        (c for c in codes if not c.startswith("SM")), key=lambda c: normalize_name(codes[c])
    )
    return tuple((c, display_specialty(c)) for c in (*doctors, *others))


def specialty_choices() -> list[tuple[str, str]]:
    """``(code, display label)`` for a select: doctors' specialties first, alphabetically."""
    return list(_specialty_choices())
