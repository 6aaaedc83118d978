"""``sas-portal refresh`` and ``sas-portal scheduler``."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from portal import db
from portal.jobs import PortalScheduler
from portal.slots import aggregation as slots
from portal.slots.states import state_label
from portal.web import plugins as app_plugins


@click.command("refresh")
@click.option(
    "--connector",
    "connector",
    default=None,
    help="Ne rafraîchir qu'un connecteur (doctolib_like) ou une source (doctolib_like:editeur-a).",
)
@with_appcontext
def refresh_command(connector: str | None) -> None:
    """Rafraîchit une fois les créneaux de toutes les sources (au premier plan)."""
    session = db.session()
    targets = slots.bound_targets(session)
    if connector:
        targets = [t for t in targets if connector in (t.source, slots.plugin_of(t.source))]
        if not targets:
            raise click.ClickException(f"aucune source liée ne correspond à « {connector} »")
    settings = slots.settings_from_config(current_app.config)
    start, end = slots.window(days=int(current_app.config.get("SLOT_WINDOW_DAYS", 3)))
    began = time.perf_counter()
    done: dict[str, int] = {}
    with click.progressbar(
        length=len(targets), label="Rafraîchissement", file=sys.stderr, show_pos=True
    ) as bar:

        def progress(source: str, count: int) -> None:
            bar.update(count - done.get(source, 0))
            done[source] = count

        report = slots.refresh_all(
            session, app_plugins.manager(), targets, start, end, settings, progress=progress
        )
    totals = report.statuses
    click.echo(f"Rafraîchissement terminé en {time.perf_counter() - began:.1f} s :")
    failed = False
    for source, status in sorted(totals.items()):
        label = state_label(status.state)
        line = (
            f"  {source:<28} {label:<24} {status.ids_asked:>5} ids  {status.slot_count:>6} créneaux"
        )
        if status.error:
            line += f"  — {status.error}"
        click.echo(line)
        failed = failed or status.state not in ("fresh", "killed", "absent")
    if failed:
        sys.exit(1)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Lance l'ordonnanceur (un seul processus) : rafraîchissement et purge des créneaux."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = PortalScheduler(app, blocking=True)

    def stop(*_: object) -> None:
        scheduler.shutdown()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"Ordonnanceur {scheduler.holder} démarré (Ctrl-C pour arrêter).")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown()
