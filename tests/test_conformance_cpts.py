"""cpts passes the conformance kit against its sandbox (INT_R04, CPTS members)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import connectors.cpts
from connectors.cpts.sandbox import make_sandbox
from portal.testing.conformance import (
    EntryPointContract,
    ErrorContract,
    FetchContract,
    RedirectBookingContract,
    SandboxUpstream,
)


class TestCpts(FetchContract, ErrorContract, RedirectBookingContract, EntryPointContract):
    @pytest.fixture
    def connector(self) -> object:
        return connectors.cpts

    @pytest.fixture
    def upstream(self) -> Iterator[SandboxUpstream]:
        with make_sandbox(seed=13) as server:
            yield SandboxUpstream(server, "cpts")
