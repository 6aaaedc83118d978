"""Plugin system: hookspecs, entry points, blocking, isolated concurrent calls."""

from __future__ import annotations

import inspect
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pluggy
import pytest

import hookspecs
from portal import (
    Booking,
    BookingRequest,
    ConnectorError,
    ConnectorInfo,
    Slot,
    SlotQuery,
    SlotTarget,
    Unavailable,
    db,
    hookimpl,
    lifecycle,
    migrate,
)
from portal.domain import Capability, source_detail, source_plugin
from portal.errors import ConnectorTimeout
from portal.plugins import call_each, call_owner, connector_infos, make_plugin_manager, refusals
from tests.factories import add_user, client_for

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


# -- routing by source ------------------------------------------------------------------


class Booker:
    """A connector booking its own slots, recording every call it gets."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.booked: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def connector_info(self) -> ConnectorInfo:
        return ConnectorInfo(
            name=self.name,
            label=self.name,
            kind="editor",
            capabilities=frozenset({"booking_redirect"}),
            requires_contract="1.1",
        )

    @hookimpl
    def book_slot(self, slot, request, config):  # type: ignore[no-untyped-def]
        self.booked.append((slot.source, dict(config)))
        return Booking(
            source=slot.source,
            slot_id=slot.id,
            status="redirect",
            redirect_url=f"https://{self.name}.test/rdv/{slot.id}?origin={config['origin']}",
        )


def _slot(source: str) -> Slot:
    return Slot(source=source, id="rdv-1", start=NOW, end=NOW + timedelta(minutes=15))


def test_book_slot_reaches_only_the_owner_of_the_source() -> None:
    alpha, beta = Booker("alpha"), Booker("beta")
    pm = make_plugin_manager(load_entry_points=False, plugins={"alpha": alpha, "beta": beta})
    configs = {"alpha": {"origin": "sas-a"}, "beta": {"origin": "sas-b"}}
    outcome = call_owner(
        pm,
        "book_slot",
        "alpha:editeur-1",
        configs=configs,
        slot=_slot("alpha:editeur-1"),
        request=BookingRequest("810000000001"),
    )
    assert outcome.ok and outcome.plugin == "alpha"
    assert outcome.value.redirect_url == "https://alpha.test/rdv/rdv-1?origin=sas-a"
    assert alpha.booked == [("alpha:editeur-1", {"origin": "sas-a"})]
    assert beta.booked == []  # never asked, not even to answer None


def test_book_slot_of_an_unknown_source_is_a_clear_error_and_calls_nobody() -> None:
    alpha = Booker("alpha")
    pm = make_plugin_manager(load_entry_points=False, plugins={"alpha": alpha})
    outcome = call_owner(
        pm, "book_slot", "gamma:x", slot=_slot("gamma:x"), request=BookingRequest("8100")
    )
    assert isinstance(outcome.error, ConnectorError)
    assert "aucun connecteur chargé ne gère la source « gamma:x »" in str(outcome.error)
    assert alpha.booked == []


def test_a_routed_call_has_a_deadline(plugin_manager: pluggy.PluginManager) -> None:
    release = threading.Event()

    class Stuck:
        @hookimpl
        def cancel_booking(self, booking):  # type: ignore[no-untyped-def]
            release.wait(30)
            return True

    plugin_manager.register(Stuck(), name="stuck")
    started = time.monotonic()
    try:
        booking = Booking(source="stuck", slot_id="1", status="confirmed")
        outcome = call_owner(
            plugin_manager, "cancel_booking", "stuck", deadline=0.2, booking=booking
        )
    finally:
        release.set()
    assert outcome.timed_out and time.monotonic() - started < 1.5


def test_the_source_syntax_is_parsed_in_one_place() -> None:
    assert source_plugin("doctolib_like:editeur-a") == "doctolib_like"
    assert source_plugin("cpts") == "cpts"
    assert source_detail("doctolib_like:editeur-a:b") == "editeur-a:b"
    assert source_detail("cpts") == ""
    query = SlotQuery(
        targets=(
            SlotTarget("810001", source="doctolib_like:a"),
            SlotTarget("810002", source="doctolib_likely"),
        ),
        start=NOW,
        end=NOW + timedelta(days=1),
    )
    assert [t.national_id for t in query.for_source("doctolib_like")] == ["810001"]


# -- refusals at load ---------------------------------------------------------------------


def _claiming(name: str, capabilities: set[str], requires: str | None = None) -> object:
    class Claims:
        @hookimpl
        def connector_info(self) -> ConnectorInfo:
            return ConnectorInfo(
                name=name,
                label=name,
                kind="editor",
                capabilities=frozenset(capabilities),  # type: ignore[arg-type]
                requires_contract=requires,
            )

        @hookimpl
        def fetch_slots(self, query):  # type: ignore[no-untyped-def]
            return None

    return Claims()


def test_a_capability_without_its_hook_is_refused_with_a_clear_message() -> None:
    pm = make_plugin_manager(
        load_entry_points=False,
        plugins={
            "direct": _claiming("direct", {"slots", "booking_direct"}),
            "fine": _claiming("fine", {"slots"}),
            "booker": Booker("booker"),
        },
    )
    assert pm.get_plugin("direct") is None  # not registered: never called
    assert pm.get_plugin("fine") is not None and pm.get_plugin("booker") is not None
    assert refusals(pm) == {
        "direct": "direct : déclare la capacité « booking_direct » sans implémenter book_slot"
    }
    assert {i.name for i in connector_infos(pm)} == {"fine", "booker"}


@pytest.mark.parametrize(
    ("required", "refused"),
    [(None, False), ("1.0", False), ("1.1", False), ("1.2", True), ("2.0", True), ("0.9", True)],
)
def test_a_connector_requiring_another_contract_is_refused(
    required: str | None, refused: bool
) -> None:
    assert hookspecs.CONTRACT_VERSION == "1.1"
    pm = make_plugin_manager(
        load_entry_points=False, plugins={"needy": _claiming("needy", {"slots"}, required)}
    )
    assert (pm.get_plugin("needy") is None) is refused
    if refused:
        assert refusals(pm)["needy"] == (
            f"needy : écrit pour le contrat {required}, le portail fournit le contrat 1.1 "
            "(mettez à jour le portail ou le connecteur)"
        )


def test_an_unreadable_contract_version_or_a_broken_connector_info_is_refused() -> None:
    class Broken:
        @hookimpl
        def connector_info(self) -> ConnectorInfo:
            raise RuntimeError("boum")

    pm = make_plugin_manager(
        load_entry_points=False,
        plugins={"odd": _claiming("odd", {"slots"}, "un.deux"), "broken": Broken()},
    )
    assert pm.get_plugin("odd") is None and pm.get_plugin("broken") is None
    assert "version de contrat requise illisible ('un.deux'" in refusals(pm)["odd"]
    assert refusals(pm)["broken"] == "broken : connector_info a échoué (boum)"


def test_the_in_repo_connectors_require_the_current_contract() -> None:
    pm = make_plugin_manager()
    for info in connector_infos(pm):
        if info.name != "sas_agenda":
            assert info.requires_contract == hookspecs.CONTRACT_VERSION, info.name


# -- startup / shutdown -------------------------------------------------------------------


class Lifecycle:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.started: list[dict[str, Any]] = []
        self.stopped = 0

    @hookimpl
    def startup(self, config):  # type: ignore[no-untyped-def]
        self.started.append(dict(config))
        if self.fail:
            raise RuntimeError("démarrage impossible")

    @hookimpl
    def shutdown(self) -> None:
        self.stopped += 1
        if self.fail:
            raise RuntimeError("arrêt impossible")


def test_startup_once_per_manager_and_shutdown_isolated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = Lifecycle(), Lifecycle(fail=True)
    pm = make_plugin_manager(load_entry_points=False, plugins={"good": good, "bad": bad})
    configs = {"good": {"base_url": "https://g.test"}}
    assert lifecycle.start(pm, configs) is True
    assert lifecycle.start(pm, configs) is False  # a second app on the same manager
    assert good.started == [{"base_url": "https://g.test"}] and bad.started == [{}]
    assert "bad : échec au démarrage : démarrage impossible" in caplog.text
    lifecycle.stop(pm)
    assert good.stopped == 1 and bad.stopped == 1  # the failing one blocked nobody
    assert "bad : échec à l'arrêt : arrêt impossible" in caplog.text


def test_the_app_starts_its_connectors_when_built(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import create_app

    probe = Lifecycle()
    pm = make_plugin_manager(load_entry_points=False, plugins={"probe": probe})
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {"DATABASE_URL": database_url, "CONNECTORS": {"probe": {"x": 1}}}
    create_app(config, plugin_manager=pm)
    create_app(config, plugin_manager=pm)  # the scheduler and the CLI build one too
    assert probe.started == [{"x": 1}]
    lifecycle.stop(pm)
    assert probe.stopped == 1


# -- check_config, refusals: shown by `sas-portal connectors` and /healthz ----------------


def test_load_problems_are_shown_by_the_connectors_command_and_healthz(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import create_app

    class Picky:
        @hookimpl
        def connector_info(self) -> ConnectorInfo:
            return ConnectorInfo(name="picky", label="Exigeant", kind="editor")

        @hookimpl
        def fetch_slots(self, query):  # type: ignore[no-untyped-def]
            return None

        @hookimpl
        def check_config(self, config):  # type: ignore[no-untyped-def]
            return [] if config.get("token") else ["picky : jeton « token » manquant"]

    pm = make_plugin_manager(
        load_entry_points=False,
        plugins={"picky": Picky(), "direct": _claiming("direct", {"booking_direct"})},
    )
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"DATABASE_URL": database_url, "CONNECTORS": {"picky": {}}}, plugin_manager=pm)
    body = app.test_client().get("/healthz").get_json()
    assert body["connectors"] == ["picky"]
    assert body["connector_problems"] == {
        "direct": ["direct : déclare la capacité « booking_direct » sans implémenter book_slot"],
        "picky": ["picky : jeton « token » manquant"],
    }
    result = app.test_cli_runner().invoke(args=["connectors"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == [
        "Problèmes au chargement :",
        "  ! direct : déclare la capacité « booking_direct » sans implémenter book_slot",
        "  ! picky : jeton « token » manquant",
    ]
    # … and by the administrators' page of the sources
    with app.app_context():
        migrate.upgrade(db.engine())
        admin = add_user(db.session(), "administrateur")
        db.session().commit()
    page = client_for(app, admin).get("/admin/connecteurs").get_data(as_text=True)
    assert "Connecteurs refusés ou mal configurés" in page
    assert "déclare la capacité « booking_direct » sans implémenter book_slot" in page
    assert "jeton « token » manquant" in page
    lifecycle.stop(pm)


def test_the_in_repo_connectors_check_their_sections_at_start(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal import create_app

    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(tmp_path / "instance"))
    missing = tmp_path / "absent.pem"
    connectors = {
        "cpts": {"base_url": "ftp://compte:motdepasse@cpts.test"},
        "sos_medecins": {"base_url": "https://sos.test", "enabled": False},
        "doctolib_like": {
            "editors": {
                "a": {"base_url": "https://a.test", "client_cert": str(missing)},
                "b": {"base_url": "https://b.test"},
            }
        },
    }
    app = create_app({"DATABASE_URL": database_url, "CONNECTORS": connectors})
    health = app.test_client().get("/healthz")
    assert "motdepasse" not in health.get_data(as_text=True)  # /healthz is public
    problems = health.get_json()["connector_problems"]
    assert problems == {
        "cpts": ["cpts : base_url invalide, une adresse http(s)://hôte/… est attendue"],
        "doctolib_like": [
            f"doctolib_like:a : fichier client_cert introuvable (certificat client) : {missing}"
        ],
    }
    output = app.test_cli_runner().invoke(args=["connectors"]).output
    assert "  ! cpts : base_url invalide, une adresse http(s)://hôte/… est attendue" in output


# -- the contract's documentation --------------------------------------------------------


def _hookspecs() -> list[Any]:
    return [
        function
        for _, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT_NAME}_spec")
    ]


def test_every_hookspec_is_documented_in_pytest_style() -> None:
    specs = _hookspecs()
    names = {f.__name__ for f in specs}
    assert {"connector_info", "fetch_slots", "book_slot", "startup", "check_config"} <= names
    for function in specs:
        doc = inspect.getdoc(function) or ""
        name = function.__name__
        assert "Called" in doc, f"{name}: say when it is called"
        for parameter in inspect.signature(function).parameters:
            assert f":param {parameter}:" in doc, f"{name}: document :param {parameter}:"
        assert ":return:" in doc, f"{name}: say what it returns (and what None means)"
        if function.sas_portal_spec.get("firstresult"):  # type: ignore[attr-defined]
            assert "firstresult" in doc, f"{name}: say that the first answer wins"
    assert hookspecs.book_slot.sas_portal_spec["firstresult"] is True  # type: ignore[attr-defined]


def test_every_capability_names_a_hookspec() -> None:
    names = {f.__name__ for f in _hookspecs()}
    assert set(hookspecs.CAPABILITY_HOOKS) == set(get_args(Capability))
    assert set(hookspecs.CAPABILITY_HOOKS.values()) <= names
