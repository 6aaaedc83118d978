"""``sas-portal connectors``: what is loaded and what it can do."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from portal import plugins
from portal.web import plugins as app_plugins


@click.command("connectors")
@with_appcontext
def connectors_command() -> None:
    """Liste les connecteurs chargés et leurs capacités, puis les
    connecteurs refusés et les problèmes de configuration."""
    from flask import current_app

    pm = app_plugins.manager()
    infos = plugins.connector_infos(pm)
    if not infos:
        click.echo("Aucun connecteur chargé.")
    for info in infos:
        caps = ", ".join(sorted(info.capabilities))
        click.echo(f"{info.name:<16} {info.kind:<10} {caps:<45} {info.label}")
    problems = app_plugins.connector_problems()
    if problems:
        click.echo("Problèmes au chargement :")
    for found in problems.values():
        for problem in found:
            click.echo(f"  ! {problem}")
    disabled = current_app.config["DISABLED_CONNECTORS"]
    if disabled:
        click.echo(f"Désactivés par la configuration : {', '.join(disabled)}")
