"""The base of every contract class: the fixtures a connector overrides, the shared
helpers, and the checks every connector passes (registration, ``connector_info``);
and :class:`EntryPointContract`, for a connector installed as a distribution."""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, get_args

import pluggy
import pytest

import hookspecs
from portal.domain import (
    DEFAULT_DEADLINE_S,
    Capability,
    ConnectorInfo,
    ConnectorKind,
    Slot,
    SlotQuery,
    SlotTarget,
    replace,
)
from portal.domain import slot_window as window
from portal.plugins import Outcome, call_each, make_plugin_manager
from portal.testing.conformance.upstream import Upstream

#: A source no connector owns: queries and slots of "someone else".
FOREIGN_SOURCE = "conformance-kit-foreign"
#: Which hook each capability needs (``booking_*``: either one needs ``book_slot``);
#: the portal refuses at load a connector claiming a capability without its hook.
CAPABILITY_HOOKS: Mapping[str, str] = hookspecs.CAPABILITY_HOOKS
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ConnectorContract:
    """Shared fixtures and checks. Override ``connector`` and ``upstream``.

    Numbers a connector may tune as class attributes: :attr:`margin_s`,
    :attr:`query_size`, :attr:`batch_size`.
    """

    #: Seconds allowed beyond a timeout or a deadline (thread start-up, a loaded CI machine).
    margin_s: float = 1.0
    #: Targets in an ordinary query.
    query_size: int = 5
    #: Targets in the batching test: more than two national batches of 25.
    batch_size: int = 60

    # -- fixtures to override

    @pytest.fixture
    def connector(self) -> object:
        """The plugin: the module (or object) holding the ``@hookimpl`` functions."""
        pytest.fail("override the `connector` fixture: return your plugin module or object")

    @pytest.fixture
    def upstream(self) -> Upstream:
        """A started upstream implementing :class:`~portal.testing.conformance.Upstream`."""
        pytest.fail("override the `upstream` fixture: yield a started Upstream")

    # -- fixtures with defaults

    @pytest.fixture
    def slot_window(self) -> tuple[datetime, datetime]:
        """The search window: now to the end of the day after tomorrow (the national rule)."""
        return window()

    @pytest.fixture
    def info(self, connector: object) -> ConnectorInfo:
        """The connector's ``connector_info()``, asked through a plugin manager."""
        pm = make_plugin_manager(load_entry_points=False)
        pm.register(connector)
        answers = pm.hook.connector_info()
        assert len(answers) == 1, "the connector must implement connector_info (exactly once)"
        answer: ConnectorInfo = answers[0]
        return answer

    @pytest.fixture
    def conformance_pm(self, connector: object, info: ConnectorInfo) -> pluggy.PluginManager:
        """A fresh plugin manager holding only the connector, under its own name."""
        return make_plugin_manager(load_entry_points=False, plugins={info.name: connector})

    @pytest.fixture(autouse=True)
    def _upstream_back_to_ok(self, upstream: Upstream) -> Iterator[None]:
        assert isinstance(upstream, Upstream), "the `upstream` fixture must give an Upstream"
        yield
        upstream.set_behaviour("ok")

    # -- helpers

    def call(
        self,
        pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        targets: list[SlotTarget],
        slot_window: tuple[datetime, datetime],
        *,
        deadline: float = DEFAULT_DEADLINE_S,
    ) -> Outcome:
        """``fetch_slots`` exactly as the portal calls it: ``call_each`` with a deadline."""
        query = SlotQuery(tuple(targets), *slot_window)
        outcomes = call_each(
            pm,
            "fetch_slots",
            deadline=deadline,
            configs={info.name: upstream.config},
            only=[info.name],
            query=query,
        )
        assert info.name in outcomes, f"{info.name} does not implement fetch_slots"
        return outcomes[info.name]

    def fetch(self, *args: Any, **kwargs: Any) -> list[Slot] | None:
        """:meth:`call`, raising the connector's error; the slots (or ``None``) otherwise."""
        outcome = self.call(*args, **kwargs)
        if outcome.error is not None:
            raise outcome.error
        value = outcome.value
        assert value is None or isinstance(value, list), (
            f"fetch_slots must return a list or None, not {type(value).__name__}"
        )
        return value

    def fetch_some(self, *args: Any, **kwargs: Any) -> list[Slot]:
        slots = self.fetch(*args, **kwargs)
        assert slots, (
            "the upstream published no slot for its targets in the window: "
            "the contract cannot be checked (give targets with free slots)"
        )
        return slots

    @staticmethod
    def foreign(target: SlotTarget) -> SlotTarget:
        """The same target, bound to a source no connector owns."""
        foreign: SlotTarget = replace(target, source=FOREIGN_SOURCE)
        return foreign

    # -- what an opted-in contract needs: missing, the test fails (it never skips)

    @staticmethod
    def require(contract: str, satisfied: bool, why: str) -> None:
        """Fails the test, saying why, when the connector (or its upstream) cannot satisfy
        the contract it opted into: opt only into the contracts of what you support."""
        if not satisfied:
            pytest.fail(
                f"opted into {contract}, but {why}: support it, or do not opt into {contract}",
                pytrace=False,
            )

    def require_modes(self, contract: str, upstream: Upstream, *modes: str) -> None:
        """The upstream simulates every mode in ``modes`` (``Upstream.modes``)."""
        missing = sorted(set(modes) - set(upstream.modes))
        self.require(
            contract,
            not missing,
            f"the upstream cannot simulate {', '.join(map(repr, missing))} "
            f"(its modes: {sorted(upstream.modes)})",
        )

    def require_capability(self, contract: str, info: ConnectorInfo, *any_of: str) -> None:
        """``connector_info().capabilities`` holds at least one of ``any_of``."""
        self.require(
            contract,
            bool(set(any_of) & set(info.capabilities)),
            f"{info.name} claims none of {', '.join(any_of)} "
            f"(its capabilities: {sorted(info.capabilities)})",
        )

    def require_hook(
        self, contract: str, pm: pluggy.PluginManager, connector: object, hook: str
    ) -> None:
        """The connector implements ``hook``."""
        implemented = {c.name for c in pm.get_hookcallers(connector) or []}
        self.require(contract, hook in implemented, f"the connector does not implement {hook}")

    # -- checks every connector passes

    def test_registers_in_a_fresh_plugin_manager(
        self, connector: object, info: ConnectorInfo
    ) -> None:
        pm = make_plugin_manager(load_entry_points=False, plugins={info.name: connector})
        pm.check_pending()  # every @hookimpl matches a hookspec of hookspecs.py
        assert pm.get_plugin(info.name) is connector
        known = {name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction)}
        implemented = {caller.name for caller in pm.get_hookcallers(connector) or []}
        assert implemented <= known, f"unknown hooks: {sorted(implemented - known)}"

    def test_connector_info_is_complete(self, info: ConnectorInfo) -> None:
        assert isinstance(info, ConnectorInfo), "connector_info must return a ConnectorInfo"
        assert _NAME.match(info.name), (
            f"name {info.name!r}: lowercase letters, digits and _ (it is the entry-point name, "
            "the configuration key and the prefix of Slot.source)"
        )
        assert info.label.strip(), "label: the name administrators read"
        assert info.kind in get_args(ConnectorKind), f"kind {info.kind!r}"
        unknown = set(info.capabilities) - set(get_args(Capability))
        assert info.capabilities and not unknown, f"capabilities: unknown {sorted(unknown)}"
        assert info.refresh_interval_s > 0, "refresh_interval_s must be positive"

    def test_capabilities_match_the_implemented_hooks(
        self, conformance_pm: pluggy.PluginManager, connector: object, info: ConnectorInfo
    ) -> None:
        implemented = {c.name for c in conformance_pm.get_hookcallers(connector) or []}
        claimed = set(info.capabilities)
        if "fetch_source_slots" in implemented:  # a bulk publisher serves slots that way
            implemented.add("fetch_slots")
        for capability, hook in CAPABILITY_HOOKS.items():
            if capability in claimed:
                assert hook in implemented, f"claims {capability!r} but lacks {hook}"
        for hook in implemented & set(CAPABILITY_HOOKS.values()):
            needs = {c for c, h in CAPABILITY_HOOKS.items() if h == hook}
            assert claimed & needs, f"implements {hook} without claiming {' or '.join(needs)}"
        if "cancel_booking" in implemented:
            assert "booking_direct" in claimed, "cancel_booking only cancels direct bookings"


class EntryPointContract(ConnectorContract):
    """The connector is installed as a plugin of the portal: a distribution declares its
    module under the ``sas_portal.connectors`` entry-point group, named like it.

    Opt in once the package is installed (``pip install -e .``), as the portal loads it.
    """

    def test_entry_point_name_is_the_connector_name(
        self, connector: object, info: ConnectorInfo
    ) -> None:
        module = getattr(connector, "__name__", type(connector).__module__)
        declared = [
            ep
            for ep in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
            if ep.module == module
        ]
        self.require(
            "EntryPointContract",
            bool(declared),
            f"no installed distribution declares {module} under the entry-point group "
            f"{hookspecs.ENTRY_POINT_GROUP!r} (install the package: pip install -e .)",
        )
        for ep in declared:
            assert ep.name == info.name, (
                f"entry point {ep.name!r} must be named like connector_info().name "
                f"({info.name!r}): the portal finds a slot's connector by its source prefix"
            )
