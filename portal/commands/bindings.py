"""``sas-portal bindings …``: which source serves which practitioner or structure.

The logic lives in :mod:`portal.slots.bindings`; this module parses arguments,
prints the report (one line per entry on stdout, progress on stderr) and sets
the exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from portal import db, plugins
from portal.slots import bindings
from portal.slots.binding_entries import OUTCOME_LABELS
from portal.web import plugins as app_plugins

bindings_cli = AppGroup(
    "bindings",
    help="Rattachements des praticiens et structures aux sources de créneaux "
    "(sans rattachement, une source n'est jamais interrogée).",
)


def _known() -> set[str]:
    names = [info.name for info in plugins.connector_infos(app_plugins.manager())]
    return bindings.known_sources(db.session(), current_app.config, names)


def _print_report(report: bindings.BindingReport) -> None:
    for result in report.results:
        entry = result.entry
        where = f"ligne {entry.line} : " if entry.line else ""
        reason = f" — {result.reason}" if result.reason else ""
        click.echo(
            f"{where}{entry.source} {entry.national_id} {entry.upstream_id or '-'} : "
            f"{OUTCOME_LABELS[result.outcome]}{reason}"
        )
    click.echo(report.summary())
    if report.counts["refused"]:
        sys.exit(1)


@bindings_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Vérifier et rendre compte sans rien enregistrer.")
def import_command(file: Path, dry_run: bool) -> None:
    """Importer FILE, un CSV « source,identifiant national,identifiant amont ».

    L'identifiant national est préfixé (8+RPPS, 0+ADELI, 1+FINESS, 3+SIRET) ;
    l'identifiant amont peut être vide (l'éditeur connaît alors l'identifiant
    national). Chaque ligne est créée, mise à jour, inchangée ou refusée avec sa
    raison ; une ligne refusée n'empêche pas les autres. Code de sortie 1 si au
    moins une ligne est refusée.
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"lecture impossible de {file} : {exc}") from exc
    total = sum(1 for line in text.splitlines() if line.strip())

    def progress(done: int) -> None:
        click.echo(f"… {done}/{total} lignes traitées", err=True)

    report = bindings.store(
        db.session(), bindings.parse_csv(text), _known(), dry_run=dry_run, progress=progress
    )
    _print_report(report)


@bindings_cli.command("list")
@click.option("--source", help="Seulement cette source (ex. doctolib_like:editeur-a).")
def list_command(source: str | None) -> None:
    """Lister les rattachements (source, identifiant national, identifiants amont, nom)."""
    rows, total = bindings.list_bindings(db.session(), source=source)
    for row in rows:
        upstream = ",".join(f"{k}={v}" for k, v in sorted(row.upstream_ids.items())) or "-"
        state = "" if row.enabled else " (désactivé)"
        click.echo(f"{row.source}\t{row.national_id}\t{upstream}\t{row.name}{state}")
    click.echo(f"{total} rattachement(s).", err=True)


@bindings_cli.command("remove")
@click.argument("source")
@click.argument("national_id")
def remove_command(source: str, national_id: str) -> None:
    """Supprimer le rattachement de NATIONAL_ID à SOURCE (journalisé)."""
    if not bindings.remove(db.session(), source, national_id, actor="cli"):
        raise click.ClickException(f"aucun rattachement de {national_id} à {source}")
    click.echo(f"Rattachement de {national_id} à {source} supprimé.")


@bindings_cli.command("discover")
@click.option("--connector", "connectors", multiple=True, help="Seulement ce connecteur.")
@click.option("--dry-run", is_flag=True, help="Vérifier et rendre compte sans rien enregistrer.")
def discover_command(connectors: tuple[str, ...], dry_run: bool) -> None:
    """Demander aux connecteurs qui le savent (discover_targets) qui ils servent, et
    l'enregistrer (même compte rendu que « import »)."""
    report, notes = bindings.discover(
        db.session(),
        app_plugins.manager(),
        current_app.config.get("CONNECTORS", {}),
        _known(),
        only=connectors or None,
        dry_run=dry_run,
    )
    for name, note in notes.items():
        click.echo(f"{name} : {note}", err=True)
    if not report.results and not notes:
        raise click.ClickException("aucun connecteur chargé ne sait lister ses praticiens")
    _print_report(report)
