"""``sas-portal normalize FILE``: one normalised slot per JSON line, warnings on stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskCliRunner

from portal.commands.normalize import normalize_command

DATA = Path(__file__).parent / "data" / "fhir"
IG = DATA / "sas-ig"
FIELDS = [
    "source",
    "id",
    "practitioner",
    "structure",
    "start",
    "end",
    "modalities",
    "visibility",
    "bookable",
    "specialties",
    "reasons",
    "booking_url",
    "capacity",
    "address",
    "cpts",
]


def normalize(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(normalize_command, list(args), input=stdin)


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def bundle_files() -> list[Path]:
    """Every Bundle of the guide (the copy under tests/data: the suite needs nothing else)."""
    return sorted(IG.glob("Bundle-*.json"))


@pytest.mark.parametrize("path", bundle_files(), ids=lambda p: p.stem)
def test_every_guide_bundle_normalizes(path: Path) -> None:
    result = normalize(str(path))
    assert result.exit_code == 0, result.output
    slots = lines(result)
    bundle = json.loads(path.read_bytes())
    expected = [
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Slot"
    ]
    assert [s["id"] for s in slots] == expected
    assert all(list(s) == FIELDS for s in slots)
    assert "avertissement" not in result.stderr


def test_ps_line_and_default_source() -> None:
    result = normalize(str(IG / "Bundle-ExampleBundlePSIndiv.json"))
    first = lines(result)[0]
    assert first["source"] == "doctolib_like"
    assert first["practitioner"] == "810100050075"
    assert first["address"] == {"line": "1 rue Mme DELMAS", "postal_code": "47000", "city": "AGEN"}
    assert "Visite de contrôle" in result.stdout  # ensure_ascii=False
    assert result.stderr.strip().endswith("(flux ps, source doctolib_like)")


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("Bundle-ExampleBundleCPTS2.json", "cpts"),
        ("Bundle-ExampleBundleAgregateurSOS.json", "sos_medecins"),
    ],
)
def test_default_source_follows_the_flow(name: str, source: str) -> None:
    assert {s["source"] for s in lines(normalize(str(IG / name)))} == {source}


def test_source_and_flow_options() -> None:
    path = str(IG / "Bundle-ExampleBundlePSIndiv.json")
    result = normalize(path, "--source", "doctolib_like:maiia", "--flow", "sos")
    assert result.exit_code == 0
    slots = lines(result)
    assert {s["source"] for s in slots} == {"doctolib_like:maiia"}
    assert {s["practitioner"] for s in slots} == {None}
    assert normalize(path, "--flow", "rdv").exit_code == 2


def test_stdin() -> None:
    data = (IG / "Bundle-ExampleBundleCPTS2.json").read_bytes()
    result = normalize("-", stdin=data)
    assert result.exit_code == 0
    assert [s["cpts"] for s in lines(result)] == [["1950047225", "1950046227"]]


def test_warnings_go_to_stderr() -> None:
    result = normalize(str(DATA / "ps-broken-entries.json"))
    assert result.exit_code == 0
    assert [s["id"] for s in lines(result)] == ["ok-1", "ok-2"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("avertissement")]
    assert warnings[0] == "avertissement : entrée 1 (Slot/no-start) ignorée : pas de start"
    assert len(warnings) == 5
    assert "2 créneau(x) normalisé(s) sur 10 entrée(s)" in result.stderr


def test_empty_bundle_exits_zero() -> None:
    result = normalize(str(DATA / "empty-bundle.json"))
    assert result.exit_code == 0
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("missing.json", 2, "fichier introuvable"),
        ("sas-ig", 2, "est un dossier"),
        ("bad-gateway.html", 1, "ce n'est pas du JSON"),
        (
            "practitioner.json",
            1,
            "un Bundle FHIR était attendu, reçu resourceType « Practitioner »",
        ),
        ("operation-outcome.json", 1, "Paramètre start obligatoire ; Recherche par"),
    ],
)
def test_failures(name: str, code: int, message: str) -> None:
    result = normalize(str(DATA / name))
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_invalid_json_on_stdin() -> None:
    result = normalize("-", stdin=b'{"resourceType": "Bundle",')
    assert result.exit_code == 1
    assert "entrée standard : réponse illisible" in result.stderr


def test_registered_on_the_app(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["normalize", str(IG / "Bundle-ExampleBundleAgregateurSOS.json")])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 4
