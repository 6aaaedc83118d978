"""Application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from typing import Any

import pluggy
from flask import Flask, redirect, url_for
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from portal import db
from portal.config import ensure_secret_key, instance_path_from_env, load_config
from portal.permissions import home_endpoint
from portal.reference.vocabulary import MODALITY_ICONS, modality_label
from portal.web import gcpause, guard, localtime, security
from portal.web import plugins as app_plugins
from portal.web import session as auth_session

log = logging.getLogger(__name__)

#: Card badges and modality marks (text, so they need no icon font and read aloud well).
BADGES = {
    "sas": "Participe au SAS",
    "sos": "SOS Médecins",
    "cpts": "CPTS",
    "msp": "MSP",
    "mt": "Médecin traitant",
}

#: Vendored front-end assets (pinned; see portal/static/vendor/VERSIONS.md).
VENDORED = {
    "HTMX_JS": "vendor/htmx-2.0.11/htmx.min.js",
    "LEAFLET_JS": "vendor/leaflet-1.9.4/leaflet.js",
    "LEAFLET_CSS": "vendor/leaflet-1.9.4/leaflet.css",
}

htmx = HTMX()
csrf = CSRFProtect()


def create_app(
    test_config: Mapping[str, Any] | None = None,
    *,
    plugin_manager: pluggy.PluginManager | None = None,
) -> Flask:
    """Build the portal application.

    :param test_config: overrides applied last (tests); every configuration
        key can also come from the instance file or a ``SAS_PORTAL_<KEY>``
        environment variable.
    :param plugin_manager: the connectors to use instead of the installed entry
        points (tests inject a fresh manager with their own plugins).
    """
    app = Flask(
        __name__,
        instance_path=instance_path_from_env(),
        instance_relative_config=True,
    )
    load_config(app, test_config)  # the instance folder is created when first needed

    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops:  # behind reverse proxies: trust their X-Forwarded-* (client IP for throttling)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    security.init_app(app)  # first: request ids and error pages for everything after
    db.init_app(app)
    app_plugins.init_app(app, plugin_manager)
    guard.init_app(app)
    htmx.init_app(app)
    csrf.init_app(app)
    gcpause.init_app(app)

    from portal.commands import register_commands
    from portal.views import register_blueprints

    app.jinja_env.globals.update(VENDORED)
    app.jinja_env.globals.update(BADGES=BADGES, MODALITY_ICONS=MODALITY_ICONS)
    app.jinja_env.filters["modality"] = modality_label
    localtime.init_app(app)
    register_blueprints(app)
    register_commands(app)
    _secret_on_first_request(app)

    @app.get("/")
    def index() -> Response:
        principal = auth_session.current()
        assert principal is not None  # the guard sent anonymous users to /connexion
        return redirect(url_for(home_endpoint(principal)))

    return app


def _secret_on_first_request(app: Flask) -> None:
    """Create the instance secret when a request comes (before its session is opened),
    not when the app is built: a listing command writes nothing."""
    serve = app.wsgi_app

    def wsgi_app(environ: Any, start_response: Any) -> Any:
        ensure_secret_key(app)
        return serve(environ, start_response)

    app.wsgi_app = wsgi_app  # type: ignore[method-assign]


def warm_up(app: Flask) -> None:
    """Prepare a serving process before its first request.

    Loads what the first search would (the commune index, the terminologies), then
    moves every object alive at that point out of the cyclic garbage collector's sight
    (:func:`gc.freeze`): its full collections would otherwise walk those hundreds of
    thousands of long-lived objects during requests (about 60 ms per results page at
    national scale, ``sas-portal bench search``). Call it once the application is
    built, before serving (``portal.wsgi``, ``sas-portal demo``); with a pre-forking
    server, before the fork, which also keeps the frozen pages shared.
    """
    from portal.reference import geo
    from portal.reference import terminology as reference

    ensure_secret_key(app)
    with app.app_context():
        geo.get_index()
        reference.specialty_choices()
        reference.search_specialties("")
        reference.professions()
        reference.slot_kinds()
    gc.collect()
    gc.freeze()
