"""doctolib_like passes the conformance kit against its sandbox editor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import connectors.doctolib_like
from connectors.doctolib_like.sandbox import make_sandbox
from portal.testing.conformance import (
    AccountsContract,
    EntryPointContract,
    ErrorContract,
    FetchContract,
    RedirectBookingContract,
    SandboxUpstream,
)


class TestDoctolibLike(
    FetchContract, ErrorContract, RedirectBookingContract, AccountsContract, EntryPointContract
):
    @pytest.fixture
    def connector(self) -> object:
        return connectors.doctolib_like

    @pytest.fixture
    def upstream(self) -> Iterator[SandboxUpstream]:
        with make_sandbox(seed=11) as server:
            yield SandboxUpstream(
                server, "doctolib_like:kit", config=lambda s: {"editors": {"kit": s}}
            )
