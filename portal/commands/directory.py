"""``sas-portal directory …``: import the national directory, demo data, synthetic files."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from portal import db
from portal.directory.columns import DirectoryFormatError
from portal.directory.importer import import_directory
from portal.directory.report import ImportReport

MAX_LISTED = 50

directory_cli = AppGroup(
    "directory",
    help="Annuaire des professionnels : import de l'extraction nationale "
    "(PS_LibreAcces_Personne_activite), données de démonstration, fichiers synthétiques.",
)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))


def _print_listing(title: str, lines: list[str], total: int) -> None:
    if not total:
        return
    click.echo(f"{title} ({total}) :", err=True)
    for line in lines[:MAX_LISTED]:
        click.echo(f"  {line}", err=True)
    if total > MAX_LISTED:
        click.echo(f"  … et {total - MAX_LISTED} autres.", err=True)


def _parse_numbers(value: str, option: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter("liste de nombres séparés par des virgules attendue",
                                 param_hint=option) from None  # fmt: skip


@directory_cli.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--batch-size", default=5000, show_default=True, type=click.IntRange(min=1),
    help="Lignes par lot (chaque lot est validé en base).",
)  # fmt: skip
def import_command(file: Path, batch_size: int) -> None:
    """Importer FILE, une extraction PS_LibreAcces_Personne_activite de l'annuaire santé.

    Réimporter le même fichier ne change rien. Les lignes mal formées sont
    signalées (« ligne N : … ») et ignorées ; le code de sortie reste 0.
    """
    if not file.is_file():
        what = "est un dossier" if file.is_dir() else "est introuvable"
        raise click.ClickException(f"le fichier {file} {what}")
    try:
        session = db.session()
        if sys.stdout.isatty():
            total = max(0, _count_lines(file) - 1)
            with click.progressbar(length=total, label="Import de l'annuaire") as bar:
                report = import_directory(session, file, progress=bar.update,
                                          batch_size=batch_size)  # fmt: skip
        else:
            report = import_directory(session, file, batch_size=batch_size)
    except DirectoryFormatError as exc:
        raise click.ClickException(f"{file} : {exc}") from exc
    except OSError as exc:
        raise click.ClickException(
            f"impossible de lire le fichier {file} : {exc.strerror or exc}"
        ) from exc
    except SQLAlchemyError as exc:
        # the batches before the failing one stay committed; re-running resumes cleanly
        raise click.ClickException(
            f"erreur de la base de données pendant l'import : {exc}"
        ) from exc
    _report(report)


def _report(report: ImportReport) -> None:
    click.echo(report.summary())
    _print_listing("Lignes ignorées", report.problem_lines(), report.skipped)
    _print_listing("Avertissements", report.warning_lines(), report.warnings_total)


@directory_cli.command("demo")
@click.option(
    "--departments", default="47,92,35,31", show_default=True,
    help="Départements à peupler, séparés par des virgules.",
)  # fmt: skip
@click.option("--seed", default=2026, show_default=True, type=int, help="Graine du tirage.")
def demo_command(departments: str, seed: int) -> None:
    """Créer un annuaire fictif de démonstration (déterministe, sans doublon si relancé)."""
    from portal.devtools.demo_directory import generate_demo_directory
    codes = [code.strip() for code in departments.split(",") if code.strip()]
    if not codes:
        raise click.BadParameter("aucun département", param_hint="--departments")
    session = db.session()
    try:
        report = generate_demo_directory(session, codes, seed=seed)
    except ValueError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    session.commit()
    click.echo(str(report))


@directory_cli.command("synth")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--lines", "count", required=True, type=click.IntRange(min=0),
              help="Nombre de lignes de données.")  # fmt: skip
@click.option("--bad-lines", default="", metavar="N,N…",
              help="Numéros de ligne (en-tête = 1) à rendre invalides exprès : tour à tour "
              "nombre de colonnes, code commune inconnu, identifiant absent.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="Graine du tirage.")
def synth_command(file: Path, count: int, bad_lines: str, seed: int) -> None:
    """Écrire dans FILE une extraction synthétique (52 colonnes, personnes fictives)."""
    from portal.devtools.synthetic_directory import write_synthetic_extraction
    bad = _parse_numbers(bad_lines, "--bad-lines")
    try:
        write_synthetic_extraction(file, count, seed=seed, bad_lines=bad)
    except OSError as exc:
        raise click.ClickException(
            f"impossible d'écrire le fichier {file} : {exc.strerror or exc}"
        ) from exc
    click.echo(f"{file} : {count} lignes synthétiques écrites ({len(bad)} invalides exprès).")
