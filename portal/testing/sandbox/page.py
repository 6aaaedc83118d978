"""The booking page ``/rdv/<slot id>`` of a sandbox server: where the portal redirects
regulators."""

from __future__ import annotations

import html

from werkzeug.wrappers import Response

from portal.testing.sandbox.agenda import AgendaSlot, AgendaStore

_DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MODALITY_FR = {"AMB": "cabinet", "VR": "téléconsultation", "HH": "visite à domicile"}


class BookingPage(AgendaStore):
    """The booking page of a sandbox server (a mixin of :class:`SandboxServer`)."""

    # -- booking page (where the portal redirects regulators)

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        """Rows (label, value) shown on the booking page; override per flow."""
        return [("Agenda", slot.key)]

    def _booking_page(self, slot_id: str, origin: str | None) -> Response:
        slot = self.find_slot(slot_id)
        if slot is None:
            body = "<p>Ce créneau n'existe pas (ou plus) dans l'agenda simulé.</p>"
            return _html_page(body, 404)
        local = slot.start
        rows = [
            (
                "Créneau",
                f"{_DAYS_FR[local.weekday()]} {local:%d/%m/%Y}, "
                f"{local:%H:%M}–{slot.end:%H:%M} ({local.tzname()})",
            ),
            ("Modalités", ", ".join(_MODALITY_FR.get(m, m) for m in slot.modalities)),
            ("Type de créneau", ", ".join(slot.kinds)),
            ("Statut", "libre" if slot.free else "occupé"),
            *self.describe_slot(slot),
        ]
        table = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
        )
        if origin:
            who = (
                f'<p class="origin">Origine : <strong>{html.escape(origin)}</strong> — '
                "le régulateur serait connecté automatiquement (SSO depuis la plateforme SAS).</p>"
            )
        else:
            who = (
                '<p class="origin">Aucune origine : le régulateur ne serait pas connecté '
                "(connexion à l'éditeur requise, aucune connexion automatique).</p>"
            )
        body = f'<table id="slot" data-slot-id="{html.escape(slot.id)}">{table}</table>{who}'
        return _html_page(body)


def _html_page(body: str, status: int = 200) -> Response:
    page = (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Prise de rendez-vous — simulation éditeur</title></head><body>"
        f"<h1>Prise de rendez-vous — simulation éditeur</h1>{body}</body></html>"
    )
    return Response(page, status=status, mimetype="text/html")
