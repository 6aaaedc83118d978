"""sos_medecins passes the conformance kit against its sandbox (associations by SIRET)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import connectors.sos_medecins
from connectors.sos_medecins.sandbox import make_sandbox
from portal.testing.conformance import (
    EntryPointContract,
    ErrorContract,
    FetchContract,
    RedirectBookingContract,
    SandboxUpstream,
)


class TestSosMedecins(FetchContract, ErrorContract, RedirectBookingContract, EntryPointContract):
    @pytest.fixture
    def connector(self) -> object:
        return connectors.sos_medecins

    @pytest.fixture
    def upstream(self) -> Iterator[SandboxUpstream]:
        with make_sandbox(seed=12) as server:
            yield SandboxUpstream(server, "sos_medecins", "structure")
