"""Bulk publishers: the non-FHIR sandbox base, ``SourceFetchContract``, and the refresh
calling ``fetch_source_slots`` once per source, partial answers, the per-batch fallback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from hookspecs import hookimpl
from portal import db
from portal.domain import ConnectorInfo, PartialSlots, Slot, SlotQuery
from portal.models import CachedSlot
from portal.plugins import make_plugin_manager
from portal.slots import aggregation, bindings
from portal.testing import slot_window
from portal.testing.conformance import SourceFetchContract
from tests.bulk_publisher import NAME, BulkSandbox, BulkUpstream, connector, national_id
from tests.factories import add_practitioner


@pytest.fixture(scope="module")
def bulk_server() -> Iterator[BulkSandbox]:
    with BulkSandbox() as server:
        yield server


class TestBulkConnector(SourceFetchContract):
    """The example connector satisfies the bulk contract (and the common checks)."""

    @pytest.fixture
    def connector(self) -> object:
        return connector

    @pytest.fixture
    def upstream(self, bulk_server: BulkSandbox) -> BulkUpstream:
        return BulkUpstream(bulk_server)


def test_simulator_base_modes_routes_and_control(bulk_server: BulkSandbox) -> None:
    url = bulk_server.base_url
    assert httpx.get(f"{url}/nulle-part").status_code == 404
    ok = httpx.get(f"{url}/data/slots.ndjson").text.splitlines()
    assert all(line.startswith("{") for line in ok)
    httpx.post(f"{url}/_sandbox/behaviour", json={"mode": "malformed"})
    broken = httpx.get(f"{url}/data/slots.ndjson").text.splitlines()
    assert len(broken) == len(ok) + 2 and "{pas du json" in broken
    httpx.post(f"{url}/_sandbox/behaviour", json={"mode": "error"})
    failed = httpx.get(f"{url}/$bulk-publish")
    assert failed.status_code == 500 and failed.json() == {"error": "panne simulée"}
    httpx.post(f"{url}/_sandbox/behaviour", json={"mode": "timeout", "hang_s": 5})
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{url}/$bulk-publish", timeout=0.3)
    assert httpx.post(f"{url}/_sandbox/reset").json() == {"reset": True}
    assert httpx.get(f"{url}/_sandbox/requests").json() == []
    assert httpx.get(f"{url}/$bulk-publish").json()["output"][1]["type"] == "Slot"


def _bind(app: Flask, count: int, source: str = NAME) -> None:
    with app.app_context():
        s = db.session()
        for i in range(count):
            add_practitioner(s, national_id=national_id(i))
        entries = [bindings.Entry(source, national_id(i)) for i in range(count)]
        assert bindings.store(s, entries, {source}).counts == {"created": count}


def _refresh(app: Flask, pm: Any, config: dict[str, Any]) -> aggregation.RefreshReport:
    with app.app_context():
        s = db.session()
        start, end = slot_window()
        settings = aggregation.settings_from_config({"CONNECTORS": config})
        return aggregation.refresh(
            s, pm, aggregation.bound_targets(s), start, end, settings, min_age_s=0
        )


def _cached(app: Flask) -> dict[str, int]:
    with app.app_context():
        found: dict[str, int] = {}
        for who in db.session().scalars(select(CachedSlot.practitioner)):
            found[who] = found.get(who, 0) + 1
        return found


def test_refresh_reads_a_bulk_source_once_and_keeps_the_bound_targets(
    app: Flask, bulk_server: BulkSandbox
) -> None:
    _bind(app, 30)  # the publication covers 80 practitioners: 50 are not bound here
    pm = make_plugin_manager(load_entry_points=False, plugins={NAME: connector})
    bulk_server.requests.clear()
    report = _refresh(app, pm, {NAME: BulkUpstream(bulk_server).config})
    status = report.statuses[NAME]
    assert (status.state, status.ids_asked) == ("fresh", 30), status
    manifests = [r for r in bulk_server.requests if r[1] == "/$bulk-publish"]
    assert len(manifests) == 1, "30 targets: one read, not one per batch of 25"
    cached = _cached(app)
    assert set(cached) == {national_id(i) for i in range(30)}
    assert status.slot_count == sum(cached.values()) > 0


def _slot(nid: str, hours: int) -> Slot:
    start = slot_window()[0] + timedelta(hours=hours)
    return Slot("partial_src", f"{nid}-{hours}", start, start + timedelta(minutes=15),
                practitioner=nid)  # fmt: skip


def test_a_partial_answer_keeps_the_failed_targets_last_known_slots(app: Flask) -> None:
    _bind(app, 3, source="partial_src")
    a, b, c = (national_id(i) for i in range(3))
    answers: list[Any] = [
        [_slot(n, 2) for n in (a, b, c)],
        PartialSlots((_slot(a, 3), _slot(c, 3)), failed={b: "agenda indisponible"}),
    ]

    def fetch_slots(query: SlotQuery) -> Any:
        return answers.pop(0)

    info = ConnectorInfo(name="partial_src", label="Partielle", kind="editor")
    plugin = SimpleNamespace(
        connector_info=hookimpl(lambda: info), fetch_slots=hookimpl(fetch_slots)
    )
    pm = make_plugin_manager(load_entry_points=False, plugins={"partial_src": plugin})
    assert _refresh(app, pm, {}).statuses["partial_src"].state == "fresh"
    status = _refresh(app, pm, {}).statuses["partial_src"]
    assert status.state == "partial"
    assert status.error and f"{b} : agenda indisponible" in status.error
    with app.app_context():
        ids = set(db.session().scalars(select(CachedSlot.upstream_id)))
    assert ids == {f"{a}-3", f"{c}-3", f"{b}-2"}  # b keeps its last-known slot


def test_a_source_level_none_falls_back_to_batches_of_25(app: Flask) -> None:
    _bind(app, 30, source="hybrid")
    sizes: list[int] = []

    def fetch_slots(query: SlotQuery) -> list[Slot]:
        sizes.append(len(query.targets))
        return [_slot(t.national_id, 1) for t in query.targets]

    plugin = SimpleNamespace(
        connector_info=hookimpl(
            lambda: ConnectorInfo(name="hybrid", label="Hybride", kind="editor")
        ),
        fetch_slots=hookimpl(fetch_slots),
        fetch_source_slots=hookimpl(lambda source, start, end: None),
    )
    pm = make_plugin_manager(load_entry_points=False, plugins={"hybrid": plugin})
    status = _refresh(app, pm, {}).statuses["hybrid"]
    assert sorted(sizes) == [5, 25]
    assert (status.state, status.slot_count) == ("fresh", 30)
