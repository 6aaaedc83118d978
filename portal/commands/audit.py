"""``sas-portal audit export``: the audit trail as CSV, for archiving or an inquiry."""

from __future__ import annotations

import getpass
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from portal import audit, db
from portal.models import utcnow

audit_cli = AppGroup("audit", help="Journal d'audit (ajout seul) : export CSV.")


@dataclass(frozen=True, slots=True)
class _When:
    """A ``--since``/``--until`` value: a day (local) or an instant."""

    text: str
    day: date | None = None
    instant: datetime | None = None

    def start(self, zone: ZoneInfo) -> datetime:
        if self.day is not None:
            return datetime.combine(self.day, time(), zone)
        assert self.instant is not None
        return self.instant if self.instant.tzinfo else self.instant.replace(tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        """Exclusive end: the day after a date (so the day is included), or the instant."""
        if self.day is not None:
            return datetime.combine(self.day + timedelta(days=1), time(), zone)
        return self.start(zone)


class _WhenType(click.ParamType):
    name = "DATE"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> _When:
        if isinstance(value, _When):
            return value
        text = str(value).strip()
        try:
            if len(text) == 10:
                return _When(text, day=date.fromisoformat(text))
            return _When(text, instant=datetime.fromisoformat(text))
        except ValueError:
            self.fail(f"{text!r} : date AAAA-MM-JJ ou date-heure ISO 8601 attendue", param, ctx)


WHEN = _WhenType()


@audit_cli.command("export")
@click.option(
    "--since", "since", type=WHEN, required=True,
    help="Début, inclus : AAAA-MM-JJ (minuit, heure légale du portail) ou date-heure ISO 8601.",
)  # fmt: skip
@click.option(
    "--until", "until", type=WHEN, default=None,
    help="Fin : AAAA-MM-JJ (jour inclus) ou date-heure ISO 8601 (exclue). Défaut : maintenant.",
)  # fmt: skip
@click.option(
    "--output", "-o", "output", default="-", show_default=True, metavar="FILE",
    help="Fichier CSV à écrire ; « - » pour la sortie standard.",
)  # fmt: skip
def export_command(since: _When, until: _When | None, output: str) -> None:
    """Écrire en CSV les événements du journal d'audit depuis --since.

    Colonnes : at (ISO 8601, UTC), actor, action, target, ip, request_id,
    details (JSON). Du plus ancien au plus récent. L'export est lui-même
    inscrit au journal (action audit_export).
    """
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    now = utcnow()
    start = since.start(zone)
    end = min(until.end(zone), now) if until is not None else now
    if end <= start:
        raise click.BadParameter("la fin doit être postérieure au début", param_hint="--until")
    filters = audit.AuditFilter(since=start, until=end)
    session = db.session()
    with ExitStack() as stack:
        if output == "-":
            stream: TextIO = sys.stdout
        else:
            try:
                stream = stack.enter_context(open(output, "w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise click.ClickException(f"{output} : {exc.strerror}") from exc
        total = audit.count_events(session, filters)
        audit.record(
            session,
            "audit_export",
            actor=None,
            details={
                "format": "csv",
                "rows": total,
                "filters": filters.as_details(),
                "via": "cli",
                "os_user": getpass.getuser(),
                "output": "stdout" if output == "-" else output,
            },
        )
        session.commit()
        progress = None
        if sys.stderr.isatty() and not (output == "-" and sys.stdout.isatty()):
            bar = stack.enter_context(
                click.progressbar(length=total, label="Export du journal", file=sys.stderr)
            )
            progress = bar.update
        for chunk in audit.iter_csv(session, filters, progress=progress):
            stream.write(chunk)
        stream.flush()
    if output != "-":
        click.echo(f"{total} événement(s) écrit(s) dans {output}.", err=True)
