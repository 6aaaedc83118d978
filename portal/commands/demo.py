"""``sas-portal demo``: migrate, fill an empty database with demo data, start the
sandbox editors and the scheduler, serve."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from werkzeug.serving import run_simple

from portal import db, migrate
from portal.app import warm_up
from portal.directory import territories
from portal.models import Practitioner
from portal.web import plugins as app_plugins


@click.command("demo")
@with_appcontext
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--departments",
    default="47,92,35,31",
    show_default=True,
    help="Départements de l'annuaire de démonstration.",
)
@click.option(
    "--sandbox-port",
    default=5101,
    show_default=True,
    type=int,
    help="Premier port des éditeurs simulés (4 ports consécutifs ; 0 = ports libres).",
)
@click.option(
    "--psc-port",
    default=5100,
    show_default=True,
    type=int,
    help="Port du fournisseur Pro Santé Connect local (0 = port libre).",
)
@click.option("--no-serve", is_flag=True, help="Préparer la base sans lancer le serveur.")
def demo_command(
    host: str, port: int, departments: str, sandbox_port: int, psc_port: int, no_serve: bool
) -> None:
    """Lance le portail avec des données de démonstration (SQLite, sources locales)."""
    from portal.devtools import demo_identities
    from portal.devtools.demo import ensure_demo_origins, merged_connectors, start_sandboxes
    from portal.devtools.demo_directory import generate_demo_directory
    from portal.jobs import PortalScheduler
    from portal.slots import aggregation as slots

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine())
    session = db.session()
    territories.ensure_all(session)
    session.commit()
    if session.scalar(select(func.count()).select_from(Practitioner)) == 0:
        deps = [d.strip() for d in departments.split(",") if d.strip()]
        click.echo(f"Base vide : génération de l'annuaire de démonstration ({', '.join(deps)})…")
        report = generate_demo_directory(session, deps)
        session.commit()
        click.echo(str(report))
    identities = demo_identities.demo_identities(session)
    if created := demo_identities.ensure_users(session, identities):
        click.echo(f"{created} comptes de démonstration créés (connexion Pro Santé Connect).")
    code, enabled = ensure_demo_origins(session)
    session.commit()
    if enabled:
        click.echo(
            f"Origine LRM autorisée : {code} (simulateur LRM national) — ses liens "
            "/recherche?origin=" + code + "&… ouvrent une recherche préremplie."
        )
    else:
        click.echo(f"Origine LRM {code} désactivée par un administrateur : ses liens sont refusés.")
    if no_serve:
        return

    provider = demo_identities.start_provider(identities, port=psc_port)
    app.config.update(provider.portal_config(client_id=demo_identities.DEMO_CLIENT_ID))
    click.echo(f"Pro Santé Connect local : {provider.issuer} — identités de démonstration :")
    for line in demo_identities.describe(identities):
        click.echo(line)

    sandboxes = start_sandboxes(session, base_port=sandbox_port)
    # demo sections for the in-repo connectors; a third-party connector's section is kept
    app.config["CONNECTORS"] = merged_connectors(
        app.config.get("CONNECTORS"), sandboxes.connectors_config()
    )
    click.echo("Éditeurs simulés (FHIR sur la boucle locale) :")
    for source, server in sandboxes.servers.items():
        click.echo(f"  {source:<26} {server.url}")
    first = next(iter(sandboxes.servers.values()))
    click.echo(
        "  Pour simuler une panne : curl -X POST "
        f'{first.base_url}/_sandbox/behaviour -d \'{{"mode": "error"}}\''
    )
    click.echo("Premier rafraîchissement des créneaux…")
    start, end = slots.window()
    refreshed = slots.refresh_all(
        session, app_plugins.manager(), slots.bound_targets(session), start, end,
        slots.settings_from_config(app.config),
    )  # fmt: skip
    for source, status in sorted(refreshed.statuses.items()):
        click.echo(f"  {source:<26} {status.state:<8} {status.slot_count:>6} créneaux")

    scheduler = PortalScheduler(app)
    scheduler.start()
    # The local demo is plain HTTP on loopback: a Secure cookie would never come back.
    app.config["SESSION_COOKIE_SECURE"] = False
    click.echo(f"Portail de démonstration : http://{host}:{port}/recherche")
    warm_up(app)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        scheduler.shutdown()
        sandboxes.stop()
        provider.stop()
