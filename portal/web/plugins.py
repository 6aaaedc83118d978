"""The application's plugin manager: built once per app (or injected by tests)."""

from __future__ import annotations

import pluggy
from flask import Flask, current_app

from portal.plugins import connector_infos, make_plugin_manager

EXTENSION_KEY = "sas_portal.plugins"


def init_app(app: Flask, pm: pluggy.PluginManager | None = None) -> None:
    """Attach ``pm`` (tests) or a manager loading the entry points to ``app``."""
    if pm is None:
        pm = make_plugin_manager(disabled=app.config["DISABLED_CONNECTORS"])
    app.extensions[EXTENSION_KEY] = pm


def manager() -> pluggy.PluginManager:
    """The current app's plugin manager."""
    return current_app.extensions[EXTENSION_KEY]


def connector_names() -> list[str]:
    """Names of the connectors the current app loaded (``/healthz``)."""
    return [info.name for info in connector_infos(manager())]
