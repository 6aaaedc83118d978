"""``sas-portal validate FILE``: check a FHIR payload against the SAS guide and test kit."""

from __future__ import annotations

import json
import sys

import click

from portal.fhir.validation import InputError, Report, validate

LABELS = {"error": "ERREUR", "warning": "AVERTISSEMENT"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count > 1 else ''}"


def summary(report: Report) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    if report.valid:
        extra = f", {_plural(warnings, 'avertissement')}" if warnings else ""
        return f"{report.kind} : valide{extra}"
    return (
        f"{report.kind} : invalide — {_plural(errors, 'erreur')}, "
        f"{_plural(warnings, 'avertissement')}"
    )


def _read(path: str) -> bytes:
    with click.open_file(path, "rb") as handle:  # "-" is standard input
        data: bytes = handle.read()
    return data


@click.command("validate")
@click.argument("file", metavar="FICHIER")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Sortie lisible (text) ou JSON (intégration continue).",
)
def validate_command(file: str, output: str) -> None:
    """Valide un fichier FHIR (Bundle de créneaux PS / CPTS / SOS, Appointment, compte
    régulateur, ressource du guide SAS) : profils, codes, identifiants, exigences du kit de
    conformité national. « - » lit l'entrée standard.

    Code de sortie : 0 valide (avertissements permis), 1 invalide, 2 fichier illisible ou
    pas du JSON.
    """
    try:
        report = validate(_read(file))
    except OSError as exc:
        click.echo(f"Fichier illisible : {file} ({exc.strerror or exc})", err=True)
        sys.exit(2)
    except InputError as exc:
        click.echo(f"{file} : {exc}", err=True)
        sys.exit(2)
    if output == "json":
        payload = {
            "file": file,
            "kind": report.kind,
            "valid": report.valid,
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "problems": [
                {
                    "severity": p.severity,
                    "location": p.location,
                    "message": p.message,
                    "requirement": p.requirement,
                }
                for p in report.problems
            ],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"{LABELS[problem.severity]}  {problem.location} : {problem.message}")
        click.echo(summary(report))
    sys.exit(0 if report.valid else 1)
