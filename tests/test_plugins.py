"""Plugin system: hookspecs, entry points, blocking, isolated concurrent calls."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pluggy
import pytest

import hookspecs
from portal import ConnectorInfo, Slot, SlotQuery, SlotTarget, Unavailable, hookimpl
from portal.errors import ConnectorTimeout
from portal.plugins import call_each, connector_infos, make_plugin_manager, refusals

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _query() -> SlotQuery:
    return SlotQuery(
        targets=(SlotTarget("810001234567", source="good"),), start=NOW, end=NOW + timedelta(days=3)
    )


class Good:
    @hookimpl
    def connector_info(self) -> ConnectorInfo:
        return ConnectorInfo(name="good", label="Bon", kind="editor")

    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        return [
            Slot(
                source="good",
                id=f"s-{config['suffix']}",
                start=query.start,
                end=query.start + timedelta(minutes=15),
                practitioner=query.targets[0].national_id,
            )
        ]


class Raising:
    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        raise Unavailable("éditeur en panne")


class Hanging:
    def __init__(self) -> None:
        self.release = threading.Event()

    @hookimpl
    def fetch_slots(self, query):  # type: ignore[no-untyped-def]
        self.release.wait(30)
        return []


class NotForMe:
    @hookimpl
    def fetch_slots(self, query, config):  # type: ignore[no-untyped-def]
        return None


def test_entry_points_load_the_in_repo_connectors() -> None:
    pm = make_plugin_manager()
    names = {info.name for info in connector_infos(pm)}
    assert names == {"doctolib_like", "sos_medecins", "cpts", "sas_agenda"}
    caps = {i.name: i.capabilities for i in connector_infos(pm)}
    assert "accounts" in caps["doctolib_like"]
    assert caps["sas_agenda"] == frozenset()  # nothing claimed until the agenda implements it
    assert not refusals(pm)


def test_disabled_connector_is_blocked_and_never_loaded() -> None:
    pm = make_plugin_manager(disabled=["cpts"])
    assert pm.is_blocked("cpts")
    assert pm.get_plugin("cpts") is None
    assert "cpts" not in {i.name for i in connector_infos(pm)}


def test_hookspecs_are_validated(plugin_manager: pluggy.PluginManager) -> None:
    class Misspelled:
        @hookimpl
        def fetch_slot(self, query):  # type: ignore[no-untyped-def]
            return []

    plugin_manager.register(Misspelled(), name="typo")
    with pytest.raises(pluggy.PluginValidationError):
        plugin_manager.check_pending()


def test_hookimpl_with_unknown_argument_is_rejected(plugin_manager: pluggy.PluginManager) -> None:
    class WrongArgs:
        @hookimpl
        def fetch_slots(self, query, colour):  # type: ignore[no-untyped-def]
            return []

    with pytest.raises(pluggy.PluginValidationError):
        plugin_manager.register(WrongArgs(), name="wrong")


def test_call_each_isolates_raising_and_hanging_connectors(
    plugin_manager: pluggy.PluginManager,
    register_plugin,  # type: ignore[no-untyped-def]
) -> None:
    hanging = Hanging()
    register_plugin(Good(), "good")
    register_plugin(Raising(), "raising")
    register_plugin(hanging, "hanging")
    register_plugin(NotForMe(), "other")
    started = time.monotonic()
    try:
        results = call_each(
            plugin_manager,
            "fetch_slots",
            deadline=0.5,
            configs={"good": {"suffix": "x"}},
            query=_query(),
        )
    finally:
        hanging.release.set()
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, "a hanging connector must not hold the others up"
    assert results["good"].ok and [s.id for s in results["good"].value] == ["s-x"]
    assert isinstance(results["raising"].error, Unavailable)
    assert isinstance(results["hanging"].error, ConnectorTimeout) and results["hanging"].timed_out
    assert results["other"].ok and results["other"].value is None


def test_call_each_runs_connectors_concurrently(plugin_manager: pluggy.PluginManager) -> None:
    class Slow:
        @hookimpl
        def fetch_slots(self, query):  # type: ignore[no-untyped-def]
            time.sleep(0.3)
            return []

    for n in range(4):
        plugin_manager.register(Slow(), name=f"slow{n}")
    started = time.monotonic()
    results = call_each(plugin_manager, "fetch_slots", deadline=5, query=_query())
    assert time.monotonic() - started < 0.9  # 4 × 0.3 s sequentially would be 1.2 s
    assert all(r.ok for r in results.values()) and len(results) == 4


def test_call_each_per_connector_deadline_and_only(plugin_manager: pluggy.PluginManager) -> None:
    class Sleepy:
        def __init__(self, delay: float) -> None:
            self.delay = delay

        @hookimpl
        def fetch_slots(self, query):  # type: ignore[no-untyped-def]
            time.sleep(self.delay)
            return []

    plugin_manager.register(Sleepy(0.3), name="a")
    plugin_manager.register(Sleepy(0.3), name="b")
    plugin_manager.register(Sleepy(0.0), name="c")
    results = call_each(
        plugin_manager,
        "fetch_slots",
        deadline=2,
        deadlines={"b": 0.05},
        only=["a", "b"],
        query=_query(),
    )
    assert set(results) == {"a", "b"}
    assert results["a"].ok
    assert results["b"].timed_out


def test_domain_types_refuse_naive_times() -> None:
    with pytest.raises(ValueError):
        Slot(source="x", id="1", start=datetime(2026, 1, 1), end=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        SlotQuery(targets=(), start=NOW, end=NOW - timedelta(hours=1))


def test_slot_json_has_exactly_the_design_fields() -> None:
    slot = Slot(source="cpts", id="a", start=NOW, end=NOW + timedelta(minutes=20))
    assert list(slot.as_json()) == [
        "source",
        "id",
        "practitioner",
        "structure",
        "start",
        "end",
        "modalities",
        "visibility",
        "bookable",
        "specialties",
        "reasons",
        "booking_url",
        "capacity",
        "address",
        "cpts",
    ]


def test_hookspecs_are_documented() -> None:
    for name in (
        "connector_info",
        "fetch_slots",
        "book_slot",
        "cancel_booking",
        "provision_regulator",
    ):
        doc = getattr(hookspecs, name).__doc__ or ""
        assert len(doc) > 80, name
    assert hookspecs.book_slot.sas_portal_spec["firstresult"] is True  # type: ignore[attr-defined]
