"""``sas-portal validate FILE``: output format and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskCliRunner

from portal.commands.validate import validate_command

DATA = Path(__file__).parent / "data" / "fhir"
PS_BUNDLE = DATA / "sas-ig" / "Bundle-ExampleBundlePSIndiv.json"
RPPS_WITHOUT_PREFIX = DATA / "invalid" / "ps-17-rpps-sans-prefixe.json"


def run(*args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(validate_command, list(args), input=stdin)


def test_valid_file_exits_0_with_warnings_listed() -> None:
    result = run(str(PS_BUNDLE))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "AVERTISSEMENT  Bundle.entry[2].search : search.mode absent : « include » attendu pour "
        "un Practitioner"
    )
    assert all(line.startswith("AVERTISSEMENT  Bundle.") for line in lines[:-1])
    assert lines[-1] == f"Bundle (ps) : valide, {len(lines) - 1} avertissements"


def test_fully_valid_file() -> None:
    result = run(str(DATA / "sas-ig" / "Slot-ExampleSlotPSIndiv1.json"))
    assert result.exit_code == 0
    assert result.stdout == "Slot : valide\n"


def test_invalid_file_exits_1() -> None:
    result = run(str(RPPS_WITHOUT_PREFIX))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert (
        "ERREUR  Bundle.entry[9].resource.identifier[0].value : [agg-psindiv-17] identifiant "
        "IDNPS sans préfixe : « 10002673899 » (attendu 8+RPPS ou 0+ADELI) — un RPPS s'écrit "
        "810002673899"
    ) in lines
    errors = [line for line in lines if line.startswith("ERREUR  ")]
    warnings = [line for line in lines if line.startswith("AVERTISSEMENT  ")]
    assert len(errors) == 2  # no prefix [17], and not the requested PS [18]
    assert lines[-1] == (f"Bundle (ps) : invalide — 2 erreurs, {len(warnings)} avertissements")


def test_json_format() -> None:
    result = run(str(RPPS_WITHOUT_PREFIX), "--format", "json")
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["kind"] == "Bundle (ps)"
    assert payload["valid"] is False
    assert payload["errors"] == 2
    first_error = next(p for p in payload["problems"] if p["severity"] == "error")
    assert first_error == {
        "severity": "error",
        "location": "Bundle.entry[9].resource.identifier[0].value",
        "message": "[agg-psindiv-17] identifiant IDNPS sans préfixe : « 10002673899 » "
        "(attendu 8+RPPS ou 0+ADELI) — un RPPS s'écrit 810002673899",
        "requirement": "agg-psindiv-17",
    }


def test_stdin() -> None:
    result = run("-", stdin=PS_BUNDLE.read_bytes())
    assert result.exit_code == 0
    result = run("-", stdin=RPPS_WITHOUT_PREFIX.read_bytes())
    assert result.exit_code == 1


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert "Fichier illisible" in result.stderr
    assert result.stdout == ""


def test_not_json_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html>502 Bad Gateway</html>", encoding="utf-8")
    result = run(str(path))
    assert result.exit_code == 2
    assert "JSON invalide, ligne 1 colonne 1" in result.stderr
    result = run("-", stdin=b"\xff\xfe\x00")
    assert result.exit_code == 2
    assert "UTF-8" in result.stderr


def test_not_a_resource_exits_1() -> None:
    result = run("-", stdin=b"[]")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "inconnu : invalide — 1 erreur, 0 avertissement"


def test_registered_on_the_sas_portal_group(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["validate", str(PS_BUNDLE)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["validate", "--help"])
    assert "FICHIER" in result.output
