"""Liveness/readiness probe for load balancers and monitoring."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from portal import db
from portal.web import plugins as app_plugins

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON health: database reachable, connectors loaded, connectors refused or
    misconfigured at load (by name). No secrets, no versions of deps."""
    database_ok = db.ping()
    connectors = app_plugins.connector_names()
    body = {
        "status": "ok" if database_ok else "degraded",
        "database": "ok" if database_ok else "unreachable",
        "connectors": connectors,
        "connector_problems": app_plugins.connector_problems(),
    }
    current_app.logger.debug("healthz %s", body)
    return jsonify(body), 200 if database_ok else 503
