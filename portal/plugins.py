"""The plugin manager and the isolated, concurrent calling of connectors.

The manager is built by a factory (``make_plugin_manager``), never a global,
so tests get a fresh one; it refuses (unregisters, and remembers why, see
:func:`refusals`) a connector that claims a capability without its hook or
requires a newer contract. pluggy aborts a 1:N hook call at the first
exception, so the portal calls each implementation separately through
``call_each``: concurrently, each under its own deadline, collecting a result
or an error per connector. ``book_slot`` and ``cancel_booking`` are routed to
the one connector owning a source (:func:`call_owner`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pluggy

import hookspecs
from portal.domain import DEFAULT_DEADLINE_S, ConnectorInfo, source_plugin
from portal.errors import ConnectorError, ConnectorTimeout
from portal.loading import load_problems

K = TypeVar("K")
#: Where the reasons for refusing connectors are kept on a plugin manager.
_REFUSED = "_sas_portal_refused"


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

    Connectors failing the load checks (:func:`portal.loading.load_problems`) are unregistered;
    :func:`refusals` says why.
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
    refused: dict[str, str] = {}
    setattr(pm, _REFUSED, refused)
    infos = call_each(pm, "connector_info", deadline=2.0)
    for name, outcome in infos.items():
        problems = load_problems(pm, name, outcome.value, outcome.error)
        if problems:
            refused[name] = " ; ".join(problems)
            pm.unregister(name=name)
    return pm


def refusals(pm: pluggy.PluginManager) -> dict[str, str]:
    """Connectors refused at load, by name, with the reason (French) — for
    ``sas-portal connectors`` and ``/healthz``."""
    refused: dict[str, str] = getattr(pm, _REFUSED, {})
    return dict(refused)


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


def _run(
    done: queue.SimpleQueue[tuple[Any, Any, BaseException | None, float]],
    key: Any,
    function: Any,
    kwargs: dict[str, Any],
) -> None:
    """Run one implementation and report ``(key, value, error, finished_at)``."""
    try:
        value = function(**kwargs)
    except BaseException as exc:  # reported per connector
        done.put((key, None, exc, time.monotonic()))
    else:
        done.put((key, value, None, time.monotonic()))


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
    """Run several calls of one hook concurrently; see :func:`iter_many`."""
    return dict(iter_many(pm, hook_name, calls, configs=configs))


def iter_many(
    pm: pluggy.PluginManager,
    hook_name: str,
    calls: Mapping[K, Call],
    *,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[tuple[K, Outcome]]:
    """Run several calls of one hook concurrently, yielding outcomes as they complete.

    Each call runs in its own daemon thread; the same plugin may be called
    several times (one call per source and batch of ids). A call that misses
    its deadline is abandoned — its thread keeps running but its answer is
    ignored — so one hanging connector never holds up the others nor the
    request. Yielding in completion order lets the caller store a fast
    source's answer while a slow one is still being waited for.

    :return: (call key, :class:`Outcome`) pairs; a call to a plugin that does
        not implement the hook gets ``Outcome(value=None)`` at once.
    """
    impls = {impl.plugin_name: impl for impl in getattr(pm.hook, hook_name).get_hookimpls()}
    started = time.monotonic()
    done: queue.SimpleQueue[tuple[Any, Any, BaseException | None, float]] = queue.SimpleQueue()
    pending: dict[K, float] = {}  # key -> absolute deadline
    for key, call in calls.items():
        impl = impls.get(call.plugin)
        if impl is None:
            yield key, Outcome(call.plugin)
            continue
        call_kwargs = dict(call.kwargs)
        if "config" in impl.argnames:
            call_kwargs["config"] = dict((configs or {}).get(call.plugin, {}))
        call_kwargs = {k: v for k, v in call_kwargs.items() if k in impl.argnames}
        threading.Thread(
            target=_run,
            args=(done, key, impl.function, call_kwargs),
            name=f"connector-{call.plugin}-{hook_name}",
            daemon=True,
        ).start()
        pending[key] = started + call.deadline

    while pending:
        next_deadline = min(pending.values())
        try:
            key, value, error, finished_at = done.get(
                timeout=max(0.0, next_deadline - time.monotonic())
            )
        except queue.Empty:
            now = time.monotonic()
            for key in [k for k, at in pending.items() if at <= now]:
                del pending[key]
                yield key, _timeout(calls[key])
            continue
        if key not in pending:
            continue  # already reported as timed out
        deadline_at = pending.pop(key)
        name = calls[key].plugin
        if finished_at > deadline_at:  # answered, but too late: ignored like a timeout
            yield key, _timeout(calls[key])
        elif error is not None:
            yield key, Outcome(name, error=error, elapsed_s=finished_at - started)
        else:
            yield key, Outcome(name, value=value, elapsed_s=finished_at - started)


def call_owner(
    pm: pluggy.PluginManager,
    hook_name: str,
    source: str,
    *,
    deadline: float = DEFAULT_DEADLINE_S,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    **kwargs: Any,
) -> Outcome:
    """Call only the implementation of the connector owning ``source``, under ``deadline``.

    For the routed hooks (``book_slot``, ``cancel_booking``): ``source`` is the
    slot's or the booking's (``doctolib_like:editeur-a`` is owned by
    ``doctolib_like``). No other connector is called.

    :return: the owner's :class:`Outcome`; when no loaded connector owning the
        source implements the hook, an outcome whose error is a
        :class:`ConnectorError` saying so (nothing is called).
    """
    owner = source_plugin(source)
    if not any(i.plugin_name == owner for i in getattr(pm.hook, hook_name).get_hookimpls()):
        error = ConnectorError(
            f"aucun connecteur chargé ne gère la source « {source} » ({hook_name} impossible)"
        )
        return Outcome(owner, error=error)
    calls = {owner: Call(owner, kwargs, deadline)}
    return call_many(pm, hook_name, calls, configs=configs)[owner]


def _timeout(call: Call) -> Outcome:
    return Outcome(
        call.plugin,
        error=ConnectorTimeout(f"{call.plugin} n'a pas répondu en {call.deadline:g} s"),
        elapsed_s=call.deadline,
    )
