"""``sas-portal refresh`` and ``sas-portal scheduler``."""

from __future__ import annotations

import signal
import sys
import time
from collections import defaultdict
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from portal import db, plugins
from portal.domain import SlotTarget
from portal.jobs import PortalScheduler
from portal.services import slots

STATE_LABELS = {
    "fresh": "à jour",
    "partial": "partiel",
    "failed": "en échec",
    "timeout": "délai dépassé",
    "open": "suspendue (disjoncteur)",
    "killed": "coupée",
    "absent": "connecteur absent",
}
#: Targets per refresh call: several batches of 25 run concurrently.
CHUNK = 100


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
    by_source: dict[str, list[SlotTarget]] = defaultdict(list)
    for target in targets:
        by_source[target.source].append(target)
    settings = slots.settings_from_config(current_app.config)
    start, end = slots.window(days=int(current_app.config.get("SLOT_WINDOW_DAYS", 3)))
    totals: dict[str, slots.SourceStatus] = {}
    began = time.perf_counter()
    chunks = [
        (source, items[i : i + CHUNK])
        for source, items in sorted(by_source.items())
        for i in range(0, len(items), CHUNK)
    ]
    with click.progressbar(
        chunks, label="Rafraîchissement", file=sys.stderr, show_pos=True,
        item_show_func=lambda c: c[0] if c else None,
    ) as bar:  # fmt: skip
        for source, chunk in bar:
            report = slots.refresh(session, plugins.manager(), chunk, start, end, settings)
            _merge(totals, report.statuses[source])
    click.echo(f"Rafraîchissement terminé en {time.perf_counter() - began:.1f} s :")
    failed = False
    for source, status in sorted(totals.items()):
        label = STATE_LABELS.get(status.state, status.state)
        line = (
            f"  {source:<28} {label:<24} {status.ids_asked:>5} ids  {status.slot_count:>6} créneaux"
        )
        if status.error:
            line += f"  — {status.error}"
        click.echo(line)
        failed = failed or status.state not in ("fresh", "killed")
    if failed:
        sys.exit(1)


def _merge(totals: dict[str, slots.SourceStatus], status: slots.SourceStatus) -> None:
    known = totals.get(status.source)
    if known is None:
        totals[status.source] = status
        return
    known.ids_asked += status.ids_asked
    known.slot_count += status.slot_count
    known.duration_ms = max(known.duration_ms, status.duration_ms)
    if status.state != "fresh":
        known.state = status.state if known.state == "fresh" else known.state
        known.error = known.error or status.error


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
