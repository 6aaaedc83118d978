"""The cyclic garbage collector is paused while a request is served and runs once the
response has been sent (portal/web/gcpause.py)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from portal import create_app
from portal.web import gcpause


def _app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: object) -> Flask:
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "i"))
    return create_app({"TESTING": True, **config})


def _probe(app: Flask) -> list[bool]:
    """Records, in /healthz's view, whether the collector is enabled."""
    seen: list[bool] = []
    view = app.view_functions["health.healthz"]

    def probe() -> Any:
        seen.append(gc.isenabled())
        return view()

    app.view_functions["health.healthz"] = probe
    return seen


def test_collector_is_paused_during_a_request_and_resumed_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path, monkeypatch)
    seen = _probe(app)

    collected: list[int] = []
    original = gcpause.collect_due

    def recording() -> int:
        collected.append(original())
        return collected[-1]

    monkeypatch.setattr(gcpause, "collect_due", recording)
    assert gc.isenabled()
    app.test_client().get("/healthz")  # the response is not even closed
    assert seen == [False]  # paused while the view ran
    assert gc.isenabled() and len(collected) == 1  # resumed, one collection at teardown
    view = app.view_functions["health.healthz"]

    def failing() -> Any:
        view()
        raise RuntimeError("boom")

    app.view_functions["health.healthz"] = failing
    with pytest.raises(RuntimeError):
        app.test_client().get("/healthz")
    assert gc.isenabled() and len(collected) == 2  # errors too


def test_collect_due_picks_the_generation_cpython_would() -> None:
    thresholds = gc.get_threshold()
    try:
        gc.collect()
        gc.set_threshold(700, 1, 1)
        gc.collect(0)  # generation 1's count becomes 1: its threshold is reached
        assert gc.get_count()[1] >= 1
        assert gcpause.collect_due() in (1, 2)
        gc.set_threshold(700, 10_000, 10_000)
        gc.collect()
        assert gcpause.collect_due() == 0
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()


def test_it_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(tmp_path, monkeypatch, GC_BETWEEN_REQUESTS=False)
    seen = _probe(app)

    app.test_client().get("/healthz").close()
    assert seen == [True]
