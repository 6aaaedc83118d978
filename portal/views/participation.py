"""SAS participation settings (``/participation``) of a PS, by themselves or their delegate."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import db
from portal.audit import Actor
from portal.directory import participation
from portal.web import session as auth_session

bp = Blueprint("participation", __name__, url_prefix="/participation")


def _actor() -> Actor:
    principal = auth_session.current()
    if principal is None:  # the guard already sent anonymous users to /connexion
        abort(401)
    return Actor(principal, request.remote_addr, g.get("request_id"))


@bp.get("")
def page() -> str:
    """The settings of each practitioner the user may edit."""
    rows = participation.editable(db.session(), _actor())
    return render_template("participation/page.html", rows=rows, modes=participation.MODES)


@bp.post("")
def update() -> Response:
    """Save one practitioner's settings (scope checked by the service)."""
    form = request.form
    practitioner_id = form.get("practitioner_id", type=int)
    if practitioner_id is None:
        abort(400)
    mode = form.get("participation", "non")[:16]  # "non" or how they participate
    settings = participation.Settings(
        sas_participation=mode not in {"", "non"},
        participation_mode=None if mode in {"", "non"} else mode,
        accepts_extra_patients=form.get("accepts_extra_patients") == "1",
        refuses_public_display=form.get("refuses_public_display") == "1",
        refuses_pro_display=form.get("refuses_pro_display") == "1",
    )
    try:
        saved = participation.update(db.session(), _actor(), practitioner_id, settings)
    except PermissionError:
        abort(403)
    except LookupError:
        abort(404)
    except participation.ParticipationError as exc:
        flash(str(exc), "error")
        return redirect(url_for("participation.page", _anchor=f"ps-{practitioner_id}"), code=303)
    flash(f"Paramètres enregistrés pour {saved.display_name}.", "info")
    return redirect(url_for("participation.page", _anchor=f"ps-{practitioner_id}"), code=303)
