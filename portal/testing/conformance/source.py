"""Contract of ``fetch_source_slots``, for bulk publishers (:class:`SourceFetchContract`).

A bulk publisher (a manifest plus files, e.g. SMART Scheduling Links) has no
per-id query API, so the 25-ids-per-request rule of :class:`FetchContract` does not
apply to it. Its honest counterpart: one source-level call reads the publication
once, whatever the number of bound targets, and covers all of them (none dropped
after the 25th); slots are well formed and within the window; upstream failures
are connector errors; broken lines are skipped, the good slots kept.

The upstream counts its downloads in ``searched_ids()``: one entry per download of
the publication's manifest (the ids it covers; an empty list is fine).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pluggy

from portal.domain import DEFAULT_DEADLINE_S, ConnectorInfo, PartialSlots, Slot, SlotTarget
from portal.errors import AuthError, Unavailable
from portal.plugins import Outcome, call_each
from portal.testing.conformance.base import ConnectorContract
from portal.testing.conformance.fetch import check_slots
from portal.testing.conformance.upstream import Upstream

Window = tuple[datetime, datetime]
CONTRACT = "SourceFetchContract"


class SourceFetchContract(ConnectorContract):
    """``fetch_source_slots`` answers the whole publication of a source, read once."""

    def call_source(
        self,
        pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        source: str,
        slot_window: Window,
        *,
        deadline: float = DEFAULT_DEADLINE_S,
    ) -> Outcome:
        """``fetch_source_slots`` exactly as the portal calls it: ``call_each`` with a deadline."""
        start, end = slot_window
        self.require_hook(CONTRACT, pm, pm.get_plugin(info.name), "fetch_source_slots")
        outcomes = call_each(
            pm,
            "fetch_source_slots",
            deadline=deadline,
            configs={info.name: upstream.config},
            only=[info.name],
            source=source,
            start=start,
            end=end,
        )
        return outcomes[info.name]

    def source_slots(self, *args: Any, **kwargs: Any) -> list[Slot]:
        """:meth:`call_source`, raising the connector's error; its slots otherwise."""
        outcome = self.call_source(*args, **kwargs)
        if outcome.error is not None:
            raise outcome.error
        value = outcome.value
        assert isinstance(value, list | PartialSlots), (
            f"fetch_source_slots must return a list or PartialSlots here, not {value!r}"
        )
        return list(value.slots if isinstance(value, PartialSlots) else value)

    @staticmethod
    def of(slots: list[Slot], targets: list[SlotTarget]) -> list[Slot]:
        ids = {t.national_id for t in targets}
        return [s for s in slots if s.practitioner in ids or s.structure in ids]

    def test_source_fetch_covers_every_target_in_one_read(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        targets = upstream.targets(self.batch_size)
        before = len(upstream.searched_ids())
        slots = self.source_slots(conformance_pm, info, upstream, targets[0].source, slot_window)
        reads = len(upstream.searched_ids()) - before
        assert reads == 1, f"one call must read the publication once, it read it {reads} times"
        mine = self.of(slots, targets)
        check_slots(mine, targets, slot_window)
        covered = {s.practitioner for s in mine} | {s.structure for s in mine}
        late = {t.national_id for t in targets[25:]}
        assert covered & late, "no slot of the targets after the first 25: are some dropped?"
        for slot in slots:
            assert slot.source == targets[0].source, f"{slot.id}: source {slot.source!r}"
            assert slot.start.utcoffset() is not None, f"{slot.id}: start is not timezone-aware"
            assert slot_window[0] <= slot.start <= slot_window[1], f"{slot.id}: outside the window"

    def test_source_fetch_failures_are_connector_errors(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.require_modes(CONTRACT, upstream, "error", "auth")
        source = upstream.targets(1)[0].source
        upstream.set_behaviour("error")
        outcome = self.call_source(conformance_pm, info, upstream, source, slot_window)
        assert isinstance(outcome.error, Unavailable), f"5xx gave {outcome.error!r}"
        assert outcome.error.retryable
        upstream.set_behaviour("auth")
        outcome = self.call_source(conformance_pm, info, upstream, source, slot_window)
        assert isinstance(outcome.error, AuthError), f"401 gave {outcome.error!r}"

    def test_source_fetch_skips_broken_lines_and_keeps_the_good(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.require_modes(CONTRACT, upstream, "malformed")
        targets = upstream.targets(self.query_size)
        good = self.source_slots(conformance_pm, info, upstream, targets[0].source, slot_window)
        upstream.set_behaviour("malformed")
        outcome = self.call_source(conformance_pm, info, upstream, targets[0].source, slot_window)
        assert outcome.ok, f"broken lines must be skipped, not fail the source: {outcome.error!r}"
        kept = self.source_slots(conformance_pm, info, upstream, targets[0].source, slot_window)
        assert {s.id for s in self.of(kept, targets)} == {s.id for s in self.of(good, targets)}
