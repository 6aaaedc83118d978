"""The application's plugin manager: built once per app (or injected by tests).

Building it checks every connector's configuration section (``check_config``)
and starts the connectors (``startup``, once per manager and process; ``shutdown``
at exit): the web workers, the scheduler and the command line all build an app.
"""

from __future__ import annotations

import pluggy
from flask import Flask, current_app

from portal import lifecycle
from portal.plugins import connector_infos, make_plugin_manager, refusals
from portal.slots.states import SourceLabels

EXTENSION_KEY = "sas_portal.plugins"
PROBLEMS_KEY = "sas_portal.connector_problems"
LABELS_KEY = "sas_portal.source_labels"


def init_app(app: Flask, pm: pluggy.PluginManager | None = None) -> None:
    """Attach ``pm`` (tests) or a manager loading the entry points to ``app``, check the
    connectors' configuration sections and start them."""
    if pm is None:
        pm = make_plugin_manager(disabled=app.config["DISABLED_CONNECTORS"])
    app.extensions[EXTENSION_KEY] = pm
    configs = app.config["CONNECTORS"]
    app.extensions[PROBLEMS_KEY] = lifecycle.check_configs(pm, configs)
    lifecycle.start(pm, configs)


def manager() -> pluggy.PluginManager:
    """The current app's plugin manager."""
    return current_app.extensions[EXTENSION_KEY]


def source_labels() -> SourceLabels:
    """What regulators read for each slot source (``Éditeur A``, not its id): the
    connectors' labels and the ``CONNECTORS`` sections', read once per app."""
    labels = current_app.extensions.get(LABELS_KEY)
    if labels is None:
        names = {info.name: info.label for info in connector_infos(manager())}
        labels = SourceLabels(names, current_app.config.get("CONNECTORS") or {})
        current_app.extensions[LABELS_KEY] = labels
    return labels


def connector_names() -> list[str]:
    """Names of the connectors the current app loaded (``/healthz``)."""
    return [info.name for info in connector_infos(manager())]


def connector_problems() -> dict[str, list[str]]:
    """What went wrong at load, by connector: refusals (the connector is not loaded)
    and configuration problems (it is loaded, its calls will fail)."""
    problems = {name: [reason] for name, reason in refusals(manager()).items()}
    for name, found in current_app.extensions.get(PROBLEMS_KEY, {}).items():
        problems.setdefault(name, []).extend(found)
    return dict(sorted(problems.items()))
