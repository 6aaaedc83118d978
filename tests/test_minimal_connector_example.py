"""The minimal third-party connector of ``docs/examples/minimal_connector``.

It is loaded the way an installed package is — through the ``sas_portal.connectors``
entry point its ``pyproject.toml`` declares — without pip: a dist-info folder
carrying that entry point is put on ``sys.path``. The conformance kit then runs
against the loaded plugin, the example's own test suite runs as an integrator
would run it, the kit is shown to catch broken variants of the example (and to fail,
never skip, a contract the connector opts into but cannot satisfy), and
``docs/connectors.md`` is checked to show the example's files verbatim.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from portal import BookingRequest, ConnectorInfo, RegulatorAccount, UpstreamRejected
from portal.plugins import connector_infos, make_plugin_manager
from portal.slots.aggregation import window
from portal.testing.conformance import (
    AccountsContract,
    BookingContract,
    CancelContract,
    ConnectorContract,
    DirectBookingContract,
    EntryPointContract,
    ErrorContract,
    FetchContract,
    RedirectBookingContract,
    Upstream,
    check_slots,
)
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "minimal_connector"
DOC = ROOT / "docs" / "connectors.md"
EXAMPLE_FILES = (
    "pyproject.toml",
    "minimal_connector/__init__.py",
    "minimal_connector/sandbox.py",
    "tests/test_minimal_connector.py",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example as an installed distribution: its folder on ``sys.path`` (what an
    editable install does) and a dist-info with the entry points of its pyproject."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path_factory.mktemp("site-packages")
    dist_info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    sections = [
        "\n".join([f"[{group}]", *(f"{name} = {value}" for name, value in points.items())])
        for group, points in project["entry-points"].items()
    ]
    (dist_info / "entry_points.txt").write_text("\n\n".join(sections) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))
        patch.syspath_prepend(str(site))
        yield site
    for name in [m for m in sys.modules if m.split(".")[0] == "minimal_connector"]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def loaded(installed: Path) -> ModuleType:
    """The plugin the portal's own loader finds under the entry point ``minimal``."""
    plugin = make_plugin_manager().get_plugin("minimal")
    assert isinstance(plugin, ModuleType)
    return plugin


def test_the_entry_point_loads_the_example_like_any_connector(installed: Path) -> None:
    pm = make_plugin_manager()  # entry points: the in-repo connectors and the example

    plugin = pm.get_plugin("minimal")
    assert plugin is importlib.import_module("minimal_connector")
    assert {"minimal", "doctolib_like"} <= {i.name for i in connector_infos(pm)}
    distributions = {p: d for p, d in pm.list_plugin_distinfo()}
    assert distributions[plugin].project_name == "sas-portal-minimal-connector"
    assert not make_plugin_manager(disabled=["minimal"]).get_plugin("minimal")


def test_sas_portal_connectors_lists_it(installed: Path, tmp_path: Path) -> None:
    app = make_test_app(f"sqlite:///{tmp_path / 'portal.sqlite3'}", tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["connectors"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("minimal "))
    assert line.split() == ["minimal", "editor", "booking_direct,", "slots", "Agenda", "Minimal"]


class TestMinimalConnectorFromItsEntryPoint(
    FetchContract, ErrorContract, DirectBookingContract, EntryPointContract
):
    """The kit against the plugin as loaded from its entry point: the contracts of what it
    does (slots, direct booking without cancellation) and of its installation."""

    @pytest.fixture
    def connector(self, loaded: ModuleType) -> object:
        return loaded

    @pytest.fixture
    def upstream(self, installed: Path) -> Iterator[Upstream]:
        from minimal_connector.sandbox import MinimalSandbox

        with MinimalSandbox() as sandbox:
            yield sandbox


def test_the_example_passes_its_own_tests_as_an_integrator_runs_them(installed: Path) -> None:
    """Installed (its dist-info on the path, as ``pip install -e .`` leaves it), then
    ``pytest`` in its folder: every test passes, none skips."""
    path = os.pathsep.join([str(installed), str(EXAMPLE)])
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1\d passed\b", result.stdout), result.stdout
    assert "skipped" not in result.stdout, result.stdout


# --------------------------------------------------------------------------- the kit bites


@pytest.fixture
def kit(loaded: ModuleType) -> Iterator[tuple[Any, ConnectorInfo, Upstream]]:
    """(plugin manager, info, started upstream) to call contract tests by hand."""
    from minimal_connector.sandbox import MinimalSandbox

    info = loaded.connector_info()
    with MinimalSandbox() as sandbox:
        yield (
            make_plugin_manager(load_entry_points=False, plugins={"minimal": loaded}),
            info,
            sandbox,
        )


def test_the_kit_catches_requests_of_more_than_25_ids(
    kit: tuple[Any, ConnectorInfo, Upstream], loaded: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaded, "BATCH", 100)
    with pytest.raises(AssertionError, match="ids per request"):
        FetchContract().test_fetch_asks_at_most_25_ids_per_upstream_request(*kit, window())


def test_the_kit_catches_unmapped_statuses(
    kit: tuple[Any, ConnectorInfo, Upstream], loaded: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaded, "STATUS_ERRORS", {})  # 401 would become UpstreamRejected
    with pytest.raises(UpstreamRejected):
        ErrorContract().test_refused_credentials_are_an_auth_error(*kit, window())


def test_the_kit_catches_a_client_without_its_own_timeout(
    kit: tuple[Any, ConnectorInfo, Upstream], loaded: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setattr(loaded, "_client", lambda config: httpx.Client(base_url=config["base_url"]))
    with pytest.raises(AssertionError, match="gave up after"):
        ErrorContract().test_hanging_upstream_gives_a_retryable_error_within_its_timeout(
            *kit, window()
        )


def test_the_kit_catches_claimed_capabilities_without_their_hook(
    kit: tuple[Any, ConnectorInfo, Upstream], loaded: ModuleType
) -> None:
    pm, info, _ = kit
    boasting = ConnectorInfo(info.name, info.label, info.kind, info.capabilities | {"accounts"})
    with pytest.raises(AssertionError, match="claims 'accounts'"):
        ConnectorContract().test_capabilities_match_the_implemented_hooks(pm, loaded, boasting)


def test_the_kit_catches_slots_of_targets_not_asked(
    kit: tuple[Any, ConnectorInfo, Upstream],
) -> None:
    pm, info, upstream = kit
    asked, other = upstream.targets(2)
    slots = FetchContract().fetch_some(pm, info, upstream, [other], window())
    with pytest.raises(AssertionError, match="not one of the asked targets"):
        check_slots(slots, [asked], window())


# ------------------------------------------------- a contract it cannot satisfy fails, never skips


def fails(why: str) -> pytest.RaisesExc[pytest.fail.Exception]:
    """The kit's failure of a contract opted into but not satisfiable (not a skip)."""
    return pytest.raises(pytest.fail.Exception, match=why)


def test_the_kit_fails_direct_booking_against_an_upstream_that_cannot_say_gone(
    kit: tuple[Any, ConnectorInfo, Upstream], monkeypatch: pytest.MonkeyPatch
) -> None:
    pm, info, upstream = kit
    monkeypatch.setattr(upstream, "modes", upstream.modes - {"gone"})
    with fails(r"opted into DirectBookingContract, but the upstream cannot simulate 'gone'"):
        DirectBookingContract().test_booking_a_gone_slot_raises_slot_no_longer_available(
            pm, info, upstream, window(), BookingRequest("810000000001", "lrm")
        )


def test_the_kit_fails_error_contract_against_an_upstream_without_its_modes(
    kit: tuple[Any, ConnectorInfo, Upstream], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kit[2], "modes", frozenset({"ok", "error", "auth", "malformed"}))
    with fails(r"opted into ErrorContract, but the upstream cannot simulate 'timeout'"):
        ErrorContract().test_hanging_upstream_gives_a_retryable_error_within_its_timeout(
            *kit, window()
        )


def test_the_kit_fails_booking_contracts_of_what_the_connector_does_not_do(
    kit: tuple[Any, ConnectorInfo, Upstream], loaded: ModuleType
) -> None:
    pm, info, upstream = kit
    request = BookingRequest("810000000001", "lrm")
    with fails(r"opted into RedirectBookingContract, but minimal claims none of booking_redirect"):
        RedirectBookingContract().test_booking_redirect_carries_origin(
            pm, info, upstream, window(), request
        )
    with fails(r"opted into CancelContract, but the connector does not implement cancel_booking"):
        CancelContract().test_cancelling_a_foreign_booking_returns_none(pm, loaded, upstream)
    slots_only = ConnectorInfo(info.name, info.label, info.kind, frozenset({"slots"}))
    with fails(r"opted into BookingContract, but minimal claims none of booking_redirect"):
        BookingContract().test_booking_a_foreign_slot_returns_none(
            pm, slots_only, upstream, request
        )


def test_the_kit_fails_accounts_contract_without_the_accounts_capability(
    kit: tuple[Any, ConnectorInfo, Upstream],
) -> None:
    pm, info, upstream = kit
    account = RegulatorAccount("urn:oid:1.2.250.1.71.4.2.1", "810000000003", "Marius", "Jeanne")
    with fails(r"opted into AccountsContract, but minimal claims none of accounts"):
        AccountsContract().test_provisioning_creates_updates_and_deactivates(
            pm, info, upstream, account
        )


def test_the_kit_fails_entry_point_contract_for_a_connector_not_installed(
    kit: tuple[Any, ConnectorInfo, Upstream],
) -> None:
    _, info, _ = kit
    stray = ModuleType("stray_connector")  # imported from a path, declared by no distribution
    with fails(r"opted into EntryPointContract, but no installed distribution declares stray"):
        EntryPointContract().test_entry_point_name_is_the_connector_name(stray, info)


# --------------------------------------------------------------------------- the docs


def code_blocks(markdown: str) -> dict[str, str]:
    """The files docs/connectors.md shows: a "#### `path`" line, then a fenced block."""
    pattern = re.compile(r"^#### `([^`]+)`\n\n```[a-z]*\n(.*?)^```$", re.S | re.M)
    return {path: body for path, body in pattern.findall(markdown)}


def test_the_guide_shows_the_example_files_verbatim() -> None:
    shown = code_blocks(DOC.read_text(encoding="utf-8"))
    assert set(shown) == set(EXAMPLE_FILES)
    for path in EXAMPLE_FILES:
        assert shown[path] == (EXAMPLE / path).read_text(encoding="utf-8"), (
            f"{path} drifted from the guide"
        )
    assert set(EXAMPLE_FILES) == {
        str(p.relative_to(EXAMPLE))
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "__pycache__")) for part in p.relative_to(EXAMPLE).parts)
    }
