"""``sas-portal lrm …``: the LRM allow-list from the command line (e.g. at installation)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal import db
from portal.search import lrm_origins

lrm_cli = AppGroup("lrm", help="Origines LRM autorisées à ouvrir une recherche préremplie.")


@lrm_cli.command("add")
@click.argument("origin")
@click.option("--label", default="", help="Libellé lisible de l'origine (nom du logiciel, SAMU…).")
def add_command(origin: str, label: str) -> None:
    """Autoriser l'origine ORIGIN (active dès sa création ; audité)."""
    try:
        lrm_origins.create_origin(db.session(), origin, label, actor="cli")
    except lrm_origins.OriginError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Origine {origin.strip()} ajoutée et active.")


@lrm_cli.command("list")
def list_command() -> None:
    """Lister les origines, leur état et les liens reçus ces 30 derniers jours."""
    rows = lrm_origins.list_origins(db.session())
    if not rows:
        click.echo("Aucune origine autorisée : tout lien LRM est refusé.")
    for row in rows:
        state = "active" if row.enabled else ("désactivée" if row.known else "inconnue")
        counts = f"{row.counts.accepted} acceptés, {row.counts.refused} refusés"
        click.echo(f"{row.code:<24} {state:<11} {counts:<28} {row.label}")
