"""Source-level fetches and partial answers, for :mod:`portal.slots.aggregation`.

Bulk publishers (a manifest plus files, e.g. SMART Scheduling Links) implement
``fetch_source_slots``: the refresh calls it once per source instead of
``fetch_slots`` once per batch of 25, concurrently with the batched calls of
the other sources, and keeps the slots of the targets bound to that source. A
``None`` answer means "not published in bulk": that source's targets are then
asked per batch through ``fetch_slots``, in the same refresh.

Either hook may answer a :class:`portal.domain.PartialSlots`: :func:`expand`
splits it into a successful part (stored) and a failed part (last-known slots
kept, the source reported as partial), so one unreachable target never fails
its whole batch.
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import pluggy

from portal.domain import MAX_IDS_PER_REQUEST, PartialSlots, Slot, SlotQuery, SlotTarget
from portal.errors import ConnectorError
from portal.plugins import Call, Outcome, iter_many

#: Batch index of a source-level call in the refresh's call keys ``(source, index)``.
SOURCE_LEVEL = -1
Key = tuple[str, int]


def source_level_plugins(pm: pluggy.PluginManager) -> set[str]:
    """Names of the plugins implementing ``fetch_source_slots``."""
    return {impl.plugin_name for impl in pm.hook.fetch_source_slots.get_hookimpls()}


def source_call(
    plugin: str,
    source: str,
    targets: Sequence[SlotTarget],
    start: datetime,
    end: datetime,
    deadline: float,
) -> Call:
    """The ``fetch_source_slots`` call of one source (``targets`` rides along, unpassed)."""
    kwargs = {"source": source, "start": start, "end": end, "targets": tuple(targets)}
    return Call(plugin, kwargs, deadline)


def targets_of(call: Call) -> tuple[SlotTarget, ...]:
    """The targets a call (batched or source-level) is for."""
    if "targets" in call.kwargs:
        return tuple(call.kwargs["targets"])
    return tuple(call.kwargs["query"].targets)


def iter_calls(
    pm: pluggy.PluginManager,
    calls: Mapping[Key, Call],
    *,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[tuple[Key, Outcome]]:
    """Run batched and source-level calls together, yielding outcomes as they complete.

    A source-level call answered ``None`` is replaced by ``fetch_slots`` batches
    of its targets, run after the first round; their outcomes are combined into
    one (a :class:`PartialSlots` when some batches failed).
    """
    hooks = {
        "fetch_slots": {k: c for k, c in calls.items() if k[1] != SOURCE_LEVEL},
        "fetch_source_slots": {k: c for k, c in calls.items() if k[1] == SOURCE_LEVEL},
    }
    done: queue.SimpleQueue[tuple[Key, Outcome] | None] = queue.SimpleQueue()

    def pump(hook: str, subset: Mapping[Key, Call]) -> None:
        try:
            for item in iter_many(pm, hook, subset, configs=configs):
                done.put(item)
        finally:
            done.put(None)

    running = 0
    for hook, subset in hooks.items():
        if subset:
            threading.Thread(target=pump, args=(hook, subset), daemon=True).start()
            running += 1
    fallbacks: list[Key] = []
    while running:
        item = done.get()
        if item is None:
            running -= 1
        elif item[0][1] == SOURCE_LEVEL and item[1].ok and item[1].value is None:
            fallbacks.append(item[0])
        else:
            yield item
    if fallbacks:
        yield from _per_batch(pm, {key: calls[key] for key in fallbacks}, configs)


def _per_batch(
    pm: pluggy.PluginManager,
    calls: Mapping[Key, Call],
    configs: Mapping[str, Mapping[str, Any]] | None,
) -> Iterator[tuple[Key, Outcome]]:
    """``fetch_slots`` per batch of 25 for source-level calls answered ``None``."""
    batched: dict[tuple[Key, int], Call] = {}
    for key, call in calls.items():
        targets = targets_of(call)
        for i in range(0, len(targets), MAX_IDS_PER_REQUEST):
            query = SlotQuery(
                targets[i : i + MAX_IDS_PER_REQUEST], call.kwargs["start"], call.kwargs["end"]
            )
            batched[(key, i)] = Call(call.plugin, {"query": query}, call.deadline)
    slots: dict[Key, list[Slot]] = defaultdict(list)
    failed: dict[Key, dict[str, str]] = defaultdict(dict)
    elapsed: dict[Key, float] = defaultdict(float)
    for (key, i), outcome in iter_many(pm, "fetch_slots", batched, configs=configs):
        elapsed[key] = max(elapsed[key], outcome.elapsed_s)
        for part, result in expand(batched[(key, i)].kwargs["query"].targets, outcome):
            if result.ok:
                slots[key] += result.value or []
            else:
                failed[key].update({t.national_id: _describe(result.error) for t in part})
    for key, call in calls.items():
        if failed[key] and len(failed[key]) == len(targets_of(call)):
            error = ConnectorError("; ".join(dict.fromkeys(failed[key].values())))
            yield key, Outcome(call.plugin, error=error, elapsed_s=elapsed[key])
        else:
            value = PartialSlots(tuple(slots[key]), failed[key])
            yield key, Outcome(call.plugin, value=value, elapsed_s=elapsed[key])


def expand(
    targets: Sequence[SlotTarget], outcome: Outcome, *, source_level: bool = False
) -> list[tuple[tuple[SlotTarget, ...], Outcome]]:
    """Split one answer into (targets, outcome) parts: the targets that succeeded, and
    those a :class:`PartialSlots` says failed (as an error outcome).

    :param source_level: keep only the slots of ``targets`` (a bulk answer covers
        the whole publication, bound or not).
    """
    value = outcome.value
    if not outcome.ok or not isinstance(value, PartialSlots | list | tuple):
        return [(tuple(targets), outcome)]
    failed = dict(value.failed) if isinstance(value, PartialSlots) else {}
    slots = list(value.slots if isinstance(value, PartialSlots) else value)
    good = tuple(t for t in targets if t.national_id not in failed)
    if source_level:
        ids = {t.national_id for t in good}
        slots = [s for s in slots if s.practitioner in ids or s.structure in ids]
    parts = [(good, Outcome(outcome.plugin, value=slots, elapsed_s=outcome.elapsed_s))]
    bad = tuple(t for t in targets if t.national_id in failed)
    if bad:
        reasons = "; ".join(f"{t.national_id} : {failed[t.national_id]}" for t in bad[:5])
        more = f" (et {len(bad) - 5} autres)" if len(bad) > 5 else ""
        error = ConnectorError(f"réponse partielle — {reasons}{more}")
        parts.append((bad, Outcome(outcome.plugin, error=error, elapsed_s=outcome.elapsed_s)))
    return [(part, result) for part, result in parts if part]


def _describe(error: BaseException | None) -> str:
    return str(error) if isinstance(error, ConnectorError) else f"erreur inattendue : {error!r}"
