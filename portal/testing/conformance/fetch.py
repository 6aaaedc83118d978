"""Contracts of ``fetch_slots``: what a good answer is (:class:`FetchContract`) and
how upstream failures come out (:class:`ErrorContract`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import get_args

import pluggy
import pytest

from portal.domain import (
    MAX_IDS_PER_REQUEST,
    ConnectorInfo,
    Modality,
    Slot,
    SlotTarget,
    Visibility,
    slot_from_json,
    source_plugin,
)
from portal.errors import AuthError, ConnectorError, ConnectorTimeout, Unavailable
from portal.plugins import call_each
from portal.testing.conformance.base import ConnectorContract
from portal.testing.conformance.upstream import Upstream

Window = tuple[datetime, datetime]


def check_slots(slots: list[Slot], targets: Sequence[SlotTarget], slot_window: Window) -> None:
    """Every slot is a well-formed ``Slot`` of an asked target, starting within the window."""
    asked = {t.national_id for t in targets}
    sources = {t.source for t in targets}
    start, end = slot_window
    seen: set[tuple[str, str]] = set()
    for slot in slots:
        assert isinstance(slot, Slot), f"fetch_slots returned a {type(slot).__name__}"
        assert slot.source in sources, f"{slot.id}: source {slot.source!r}, asked {sources}"
        assert slot.id and (slot.source, slot.id) not in seen, f"{slot.id!r}: empty or repeated id"
        seen.add((slot.source, slot.id))
        assert slot.practitioner in asked or slot.structure in asked, (
            f"{slot.id}: practitioner {slot.practitioner} / structure {slot.structure} "
            "is not one of the asked targets"
        )
        for name in ("start", "end"):
            moment = getattr(slot, name)
            assert moment.utcoffset() is not None, f"{slot.id}: {name} is not timezone-aware"
        assert start <= slot.start <= end, f"{slot.id}: starts {slot.start}, outside the window"
        assert slot.end > slot.start, f"{slot.id}: ends before it starts"
        assert set(slot.modalities) <= set(get_args(Modality)), f"{slot.id}: {slot.modalities}"
        assert set(slot.visibility) <= set(get_args(Visibility)), f"{slot.id}: {slot.visibility}"
        assert slot.capacity >= 1, f"{slot.id}: capacity {slot.capacity}"


class FetchContract(ConnectorContract):
    """``fetch_slots`` answers with normalised slots of the asked targets only."""

    def test_fetch_returns_slots_of_the_asked_targets_within_the_window(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        targets = upstream.targets(self.query_size)
        slots = self.fetch_some(conformance_pm, info, upstream, targets, slot_window)
        check_slots(slots, targets, slot_window)
        for slot in slots:
            assert source_plugin(slot.source) == info.name, (
                f"Slot.source {slot.source!r} must start with {info.name}"
            )

    def test_fetch_returns_none_without_targets_of_this_connector(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        foreign = [self.foreign(t) for t in upstream.targets(2)]
        before = len(upstream.searched_ids())
        assert self.fetch(conformance_pm, info, upstream, foreign, slot_window) is None
        assert self.fetch(conformance_pm, info, upstream, [], slot_window) is None
        assert len(upstream.searched_ids()) == before, "asked the upstream for nothing"

    def test_fetch_asks_at_most_25_ids_per_upstream_request(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        targets = upstream.targets(self.batch_size)
        before = len(upstream.searched_ids())
        slots = self.fetch_some(conformance_pm, info, upstream, targets, slot_window)
        searches = upstream.searched_ids()[before:]
        sizes = [len(ids) for ids in searches]
        assert sizes and max(sizes) <= MAX_IDS_PER_REQUEST, f"ids per request: {sizes}"
        assert sum(sizes) >= len(targets), f"{len(targets)} targets, ids asked: {sizes}"
        check_slots(slots, targets, slot_window)
        late = {t.national_id for t in targets[MAX_IDS_PER_REQUEST:]}
        assert {s.practitioner for s in slots} & late or {s.structure for s in slots} & late, (
            "no slot of the targets after the first 25: are later batches dropped?"
        )

    def test_slots_survive_the_cache_round_trip(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        slots = self.fetch_some(
            conformance_pm, info, upstream, upstream.targets(self.query_size), slot_window
        )
        for slot in slots:
            data = json.loads(json.dumps(slot.as_json()))
            assert slot_from_json(data) == slot, f"{slot.id}: changed through its JSON form"

    def test_check_config_accepts_the_upstream_section(
        self, conformance_pm: pluggy.PluginManager, info: ConnectorInfo, upstream: Upstream
    ) -> None:
        """``check_config`` (optional) finds nothing wrong with a working section."""
        outcomes = call_each(
            conformance_pm, "check_config", deadline=2.0, configs={info.name: upstream.config}
        )
        for outcome in outcomes.values():
            assert outcome.ok, f"check_config raised {outcome.error!r}"
            assert outcome.value == [], f"check_config of a working section: {outcome.value}"

    def test_fetch_between_startup_and_shutdown(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        """``startup`` then fetches (pooled clients), ``shutdown`` twice (idempotent), and
        fetching still works afterwards (hooks may be called outside the lifecycle)."""
        targets = upstream.targets(self.query_size)
        configs = {info.name: upstream.config}
        for outcome in call_each(conformance_pm, "startup", deadline=2.0, configs=configs).values():
            assert outcome.ok, f"startup raised {outcome.error!r}"
        for _ in range(2):
            self.fetch_some(conformance_pm, info, upstream, targets, slot_window)
        for _ in range(2):
            for outcome in call_each(conformance_pm, "shutdown", deadline=2.0).values():
                assert outcome.ok, f"shutdown raised {outcome.error!r}"
        self.fetch_some(conformance_pm, info, upstream, targets, slot_window)


class ErrorContract(ConnectorContract):
    """Upstream failures become the portal's errors, within the time allowed. The upstream
    simulates ``error``, ``auth``, ``timeout`` and ``malformed``: a test needing a mode it
    lacks fails, naming the mode."""

    def needs(self, upstream: Upstream, mode: str) -> None:
        self.require_modes("ErrorContract", upstream, mode)

    def test_server_error_is_retryable_unavailable_with_diagnostics(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.needs(upstream, "error")
        targets = upstream.targets(self.query_size)
        upstream.set_behaviour("error")
        with pytest.raises(Unavailable) as raised:
            self.fetch(conformance_pm, info, upstream, targets, slot_window)
        assert raised.value.retryable and str(raised.value)
        assert raised.value.diagnostics, "keep the upstream's explanation in `diagnostics`"

    def test_refused_credentials_are_an_auth_error(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.needs(upstream, "auth")
        targets = upstream.targets(self.query_size)
        upstream.set_behaviour("auth")
        with pytest.raises(AuthError) as raised:
            self.fetch(conformance_pm, info, upstream, targets, slot_window)
        assert not raised.value.retryable, "refused credentials will not work better later"

    def test_hanging_upstream_gives_a_retryable_error_within_its_timeout(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.needs(upstream, "timeout")
        targets = upstream.targets(self.query_size)
        upstream.set_behaviour("timeout")
        deadline = upstream.timeout_s + 2 * self.margin_s
        began = time.monotonic()
        outcome = self.call(conformance_pm, info, upstream, targets, slot_window, deadline=deadline)
        elapsed = time.monotonic() - began
        assert isinstance(outcome.error, ConnectorError) and outcome.error.retryable, (
            f"expected a retryable ConnectorError, got {outcome.error!r}"
        )
        assert elapsed <= upstream.timeout_s + self.margin_s, (
            f"gave up after {elapsed:.2f} s; the configured timeout is {upstream.timeout_s} s "
            "(the client must have its own timeout, or its thread hangs on)"
        )

    def test_stalled_connector_costs_the_deadline_never_more(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.needs(upstream, "timeout")
        targets = upstream.targets(self.query_size)
        upstream.set_behaviour("timeout")
        deadline = upstream.timeout_s / 2
        began = time.monotonic()
        outcome = self.call(conformance_pm, info, upstream, targets, slot_window, deadline=deadline)
        elapsed = time.monotonic() - began
        assert isinstance(outcome.error, ConnectorTimeout), repr(outcome.error)
        assert outcome.error.retryable
        assert elapsed <= deadline + self.margin_s, f"{elapsed:.2f} s for a {deadline} s deadline"

    def test_slow_upstream_within_the_timeout_still_answers(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        targets = upstream.targets(self.query_size)
        upstream.set_behaviour("ok", latency_s=upstream.timeout_s / 2)
        slots = self.fetch_some(conformance_pm, info, upstream, targets, slot_window)
        check_slots(slots, targets, slot_window)

    def test_malformed_entries_are_skipped_and_the_good_slots_kept(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        slot_window: Window,
    ) -> None:
        self.needs(upstream, "malformed")
        targets = upstream.targets(self.query_size)
        good = self.fetch_some(conformance_pm, info, upstream, targets, slot_window)
        upstream.set_behaviour("malformed")
        slots = self.fetch(conformance_pm, info, upstream, targets, slot_window)
        assert slots is not None, "a malformed entry must not turn the answer into None"
        missing = {s.id for s in good} - {s.id for s in slots}
        assert not missing, f"good slots lost because of broken entries: {sorted(missing)[:5]}"
        check_slots(slots, targets, slot_window)
