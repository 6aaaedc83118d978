"""Tests of portal.reference.terminology (NOS terminologies shipped as CSV)."""

from __future__ import annotations

import csv
import importlib.util
import io
from importlib.resources import files
from pathlib import Path

import pytest

from portal.reference import terminology as reference

# The FHIR CodeSystems the CSVs come from, when this checkout has them beside it.
# Copies of the ANS IG-NOS CodeSystems (see portal/data/NOTICE), so the check runs everywhere.
NOS_SOURCE = Path(__file__).parent / "data" / "nos"


def _shipped(name: str) -> str:
    return (files("portal") / "data" / "nos" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "rows"), [("specialties.csv", 84), ("professions.csv", 30), ("slot_kinds.csv", 4)]
)
def test_shipped_csvs_are_code_label_with_unique_codes(name: str, rows: int) -> None:
    text = _shipped(name)
    assert text.splitlines()[0] == "code,label"
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == rows
    assert len({row["code"] for row in table}) == rows
    assert all(row["code"] and row["label"] and None not in row for row in table)


def test_specialties() -> None:
    table = reference.specialties()
    assert len(table) == 84
    assert table["SM54"] == "Médecine générale (SM)"
    assert table["SM40"] == "Pédiatrie (SM)"
    assert table["SM22"] == "Hématologie, option Maladie du sang (SM)"  # a quoted CSV field


def test_returned_dicts_are_copies() -> None:
    reference.specialties()["SM54"] = "changed"
    reference.slot_kinds().clear()
    assert reference.specialty_label("SM54") == "Médecine générale (SM)"
    assert "CPTS" in reference.slot_kinds()


def test_professions() -> None:
    table = reference.professions()
    assert len(table) == 30
    assert table["10"] == "Médecin"
    assert reference.profession_label("50") == "Sage-Femme"


def test_slot_kinds_include_the_guide_cpts_code() -> None:
    table = reference.slot_kinds()
    assert list(table) == ["PUBLIC", "PRO", "SNP", "CPTS"]
    assert table["CPTS"] == "Créneau accessible par les CPTS"
    assert reference.slot_kind_label("snp").startswith("Créneau accessible par les Régulateurs")


def test_labels_of_unknown_codes_are_the_codes() -> None:
    assert reference.specialty_label("sm54") == "Médecine générale (SM)"
    assert reference.specialty_label("XX99") == "XX99"
    assert reference.profession_label("00") == "00"
    assert reference.slot_kind_label("OTHER") == "OTHER"


def test_search_is_accent_and_case_insensitive() -> None:
    assert reference.search_specialties("PEDIATRIE")[0] == ("SM40", "Pédiatrie (SM)")
    assert reference.search_specialties("pédiatrie")[0][0] == "SM40"


def test_search_orders_prefix_then_word_then_substring() -> None:
    codes = [code for code, _ in reference.search_specialties("chirurgie", limit=100)]
    labels = [reference.specialty_label(code) for code in codes]
    assert labels[0].startswith("Chirurgie")
    assert "SM56" in codes  # "Chirurgie orale (SM)"
    assert codes.index("SM31") > codes.index("SM56")  # "Neuro-chirurgie": a later word
    words = [code for code, _ in reference.search_specialties("orale", limit=100)]
    assert set(words) == {"SCD02", "SM56"}
    inner = reference.search_specialties("logie", limit=100)  # only inside words
    assert inner and all("logie" in label.lower() for _, label in inner)


def test_search_by_code_limit_and_blank() -> None:
    assert reference.search_specialties("sm54")[0] == ("SM54", "Médecine générale (SM)")
    assert len(reference.search_specialties("e", limit=5)) == 5
    assert len(reference.search_specialties("médecine", limit=100)) > 5
    assert reference.search_specialties("  ") == []
    assert reference.search_specialties("zzz") == []


def test_build_script_reproduces_the_shipped_csvs(tmp_path: Path) -> None:
    source = NOS_SOURCE
    script = Path(str(files("portal") / "data" / "build_nos.py"))
    spec = importlib.util.spec_from_file_location("build_nos", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = module.build(source, tmp_path)
    assert counts == {"specialties.csv": 84, "professions.csv": 30, "slot_kinds.csv": 4}
    for name in counts:
        assert (tmp_path / name).read_text(encoding="utf-8") == _shipped(name)
