"""The connectors' process lifecycle: ``check_config`` and ``startup`` when a process
builds its application, ``shutdown`` at exit.

Each implementation is called separately (``call_each``) under a short deadline, so
one failing connector never blocks the others. ``startup`` runs once per plugin
manager per process; one ``atexit`` handler shuts down every started manager.
Flask-free: the web app (``portal.web.plugins``) calls it with its configuration.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import pluggy

from portal.plugins import call_each

log = logging.getLogger(__name__)
#: Seconds each ``check_config``/``startup``/``shutdown`` implementation may take.
LIFECYCLE_DEADLINE_S = 2.0

_lock = threading.Lock()
_started: weakref.WeakSet[pluggy.PluginManager] = weakref.WeakSet()
_exit_registered = False


def check_configs(
    pm: pluggy.PluginManager, configs: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[str]]:
    """Ask every connector what is wrong with its configuration section.

    :return: connector name → problems (French sentences), only for connectors that
        reported some; a raising or hanging ``check_config`` is one problem.
    """
    problems: dict[str, list[str]] = {}
    outcomes = call_each(pm, "check_config", deadline=LIFECYCLE_DEADLINE_S, configs=configs)
    for name, outcome in sorted(outcomes.items()):
        if outcome.error is not None:
            found = [f"{name} : vérification de la configuration impossible ({outcome.error})"]
        else:
            found = [str(p) for p in (outcome.value or [])]
        if found:
            problems[name] = found
    return problems


def start(pm: pluggy.PluginManager, configs: Mapping[str, Mapping[str, Any]]) -> bool:
    """Call every connector's ``startup`` once for ``pm`` in this process.

    Failures are logged, per connector. :func:`stop` runs at exit.

    :return: ``True`` when started now, ``False`` when ``pm`` was already started.
    """
    global _exit_registered
    with _lock:
        if pm in _started:
            return False
        _started.add(pm)
        if not _exit_registered:
            atexit.register(stop_all)
            _exit_registered = True
    outcomes = call_each(pm, "startup", deadline=LIFECYCLE_DEADLINE_S, configs=configs)
    for name, outcome in sorted(outcomes.items()):
        if outcome.error is not None:
            log.error("connecteur %s : échec au démarrage : %s", name, outcome.error)
    return True


def stop(pm: pluggy.PluginManager) -> None:
    """Call every connector's ``shutdown``, each separately (failures are logged).

    Called in turn, in this thread: at interpreter exit no new thread may start.
    """
    with _lock:
        _started.discard(pm)
    for impl in pm.hook.shutdown.get_hookimpls():
        try:
            impl.function()
        except Exception as exc:  # one failing never blocks the others
            log.error("connecteur %s : échec à l'arrêt : %s", impl.plugin_name, exc)


def stop_all() -> None:
    """Shut down every started plugin manager (the ``atexit`` handler)."""
    with _lock:
        managers = list(_started)
    for pm in managers:
        stop(pm)
