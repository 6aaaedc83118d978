"""The plugin manager and the isolated, concurrent calling of connectors.

The manager is built by a factory (``make_plugin_manager``), never a global,
so tests get a fresh one. pluggy aborts a 1:N hook call at the first
exception, so the portal calls each implementation separately through
``call_each``: concurrently, each under its own deadline, collecting a result
or an error per connector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import pluggy
from flask import Flask, current_app

import hookspecs
from portal.domain import DEFAULT_DEADLINE_S, ConnectorInfo
from portal.errors import ConnectorTimeout

EXTENSION_KEY = "sas_portal.plugins"
K = TypeVar("K")


def make_plugin_manager(
    *,
    disabled: Iterable[str] = (),
    load_entry_points: bool = True,
    plugins: Mapping[str, object] | None = None,
) -> pluggy.PluginManager:
    """Build a plugin manager.

    :param disabled: entry-point names to block (never imported nor called).
    :param load_entry_points: load the ``sas_portal.connectors`` entry points.
    :param plugins: extra plugins to register, by name (tests, embedded sources).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in disabled:
        pm.set_blocked(name)
    if load_entry_points:
        pm.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
    for name, plugin in (plugins or {}).items():
        if not pm.is_blocked(name):
            pm.register(plugin, name=name)
    pm.check_pending()
    return pm


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = make_plugin_manager(disabled=app.config["DISABLED_CONNECTORS"])


def manager() -> pluggy.PluginManager:
    """The current app's plugin manager."""
    return current_app.extensions[EXTENSION_KEY]


def connector_infos(pm: pluggy.PluginManager) -> list[ConnectorInfo]:
    """``connector_info`` of every loaded connector (a broken one is left out)."""
    infos = []
    for outcome in call_each(pm, "connector_info", deadline=2.0).values():
        if outcome.ok and isinstance(outcome.value, ConnectorInfo):
            infos.append(outcome.value)
    return sorted(infos, key=lambda i: i.name)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one connector's implementation gave: a value, or an error."""

    plugin: str
    value: Any = None
    error: BaseException | None = None
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def timed_out(self) -> bool:
        return isinstance(self.error, ConnectorTimeout)


def _run(future: Future[tuple[Any, float]], function: Any, kwargs: dict[str, Any]) -> None:
    """Run one implementation; the future's result is ``(value, finished_at)``."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        value = function(**kwargs)
    except BaseException as exc:  # reported per connector
        future.set_exception(exc)
    else:
        future.set_result((value, time.monotonic()))


def call_each(
    pm: pluggy.PluginManager,
    hook_name: str,
    *,
    deadline: float = DEFAULT_DEADLINE_S,
    deadlines: Mapping[str, float] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    only: Iterable[str] | None = None,
    **kwargs: Any,
) -> dict[str, Outcome]:
    """Call every implementation of ``hook_name`` separately and concurrently.

    :param deadline: default deadline in seconds for each implementation.
    :param deadlines: per-plugin deadlines overriding ``deadline``.
    :param configs: per-plugin configuration sections, passed as ``config``
        to implementations that accept it.
    :param only: restrict the call to these plugin names.
    :return: plugin name → :class:`Outcome` (``value`` is the hook's return
        value, ``None`` included; a missed deadline is a ``ConnectorTimeout``).
    """
    wanted = set(only) if only is not None else None
    names = [
        impl.plugin_name
        for impl in getattr(pm.hook, hook_name).get_hookimpls()
        if wanted is None or impl.plugin_name in wanted
    ]
    return call_many(
        pm,
        hook_name,
        {name: Call(name, kwargs, (deadlines or {}).get(name, deadline)) for name in names},
        configs=configs,
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One call of one plugin's implementation, with its own arguments and deadline."""

    plugin: str
    kwargs: Mapping[str, Any]
    deadline: float = DEFAULT_DEADLINE_S


def call_many(
    pm: pluggy.PluginManager,
    hook_name: str,
    calls: Mapping[K, Call],
    *,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[K, Outcome]:
    """Run several calls of one hook concurrently, each in its own daemon thread.

    The same plugin may be called several times (one call per source and
    batch of ids). A call that misses its deadline is abandoned — its thread
    keeps running but its answer is ignored — so one hanging connector never
    holds up the others nor the request.

    :return: call key → :class:`Outcome`; a call to a plugin that does not
        implement the hook gets ``Outcome(value=None)``.
    """
    impls = {impl.plugin_name: impl for impl in getattr(pm.hook, hook_name).get_hookimpls()}
    started = time.monotonic()
    running: dict[K, tuple[Future[tuple[Any, float]], float]] = {}
    results: dict[K, Outcome] = {}
    for key, call in calls.items():
        impl = impls.get(call.plugin)
        if impl is None:
            results[key] = Outcome(call.plugin)
            continue
        call_kwargs = dict(call.kwargs)
        if "config" in impl.argnames:
            call_kwargs["config"] = dict((configs or {}).get(call.plugin, {}))
        call_kwargs = {k: v for k, v in call_kwargs.items() if k in impl.argnames}
        future: Future[tuple[Any, float]] = Future()
        threading.Thread(
            target=_run,
            args=(future, impl.function, call_kwargs),
            name=f"connector-{call.plugin}-{hook_name}",
            daemon=True,
        ).start()
        running[key] = (future, call.deadline)

    for key, (future, limit) in running.items():
        name = calls[key].plugin
        deadline_at = started + limit
        try:
            value, finished_at = future.result(timeout=max(0.0, deadline_at - time.monotonic()))
            if finished_at > deadline_at:  # answered, but too late: ignored like a timeout
                raise TimeoutError
        except TimeoutError:
            future.cancel()
            results[key] = Outcome(
                name,
                error=ConnectorTimeout(f"{name} n'a pas répondu en {limit:g} s"),
                elapsed_s=limit,
            )
        except BaseException as exc:  # reported per connector
            results[key] = Outcome(name, error=exc, elapsed_s=time.monotonic() - started)
        else:
            results[key] = Outcome(name, value=value, elapsed_s=finished_at - started)
    return results
