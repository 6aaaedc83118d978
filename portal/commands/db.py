"""``sas-portal db …``: schema migrations."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal import db, migrate
from portal.directory import territories

db_cli = AppGroup("db", help="Base de données : migrations du schéma (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Applique les migrations jusqu'à REVISION (par défaut : la dernière)."""
    engine = db.engine()
    before = migrate.current_revision(engine)
    try:
        migrate.upgrade(engine, revision)
    except Exception as exc:
        raise click.ClickException(f"migration impossible : {exc}") from exc
    after = migrate.current_revision(engine)
    if after == migrate.head_revision(engine):
        created = territories.ensure_all(db.session())
        db.session().commit()
        if created:
            click.echo(f"{created} territoires SAS créés")
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"Schéma déjà à jour ({after}) — {where}")
    else:
        click.echo(f"Schéma migré de {before or 'vide'} à {after} — {where}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Annule les migrations jusqu'à REVISION (``base`` vide le schéma)."""
    migrate.downgrade(db.engine(), revision)
    click.echo(f"Schéma ramené à {migrate.current_revision(db.engine()) or 'vide'}")


@db_cli.command("current")
def current_command() -> None:
    """Affiche la révision du schéma et s'il est à jour."""
    engine = db.engine()
    current = migrate.current_revision(engine)
    head = migrate.head_revision(engine)
    state = "à jour" if current == head else f"en retard (dernière : {head})"
    click.echo(f"{current or 'vide'} — {state}")
