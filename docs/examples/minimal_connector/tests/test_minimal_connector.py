"""Agenda Minimal passes the sas-portal conformance kit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from portal.testing.conformance import (
    DirectBookingContract,
    EntryPointContract,
    ErrorContract,
    FetchContract,
)

import minimal_connector
from minimal_connector.sandbox import MinimalSandbox


class TestMinimalConnector(FetchContract, ErrorContract, DirectBookingContract, EntryPointContract):
    """Books directly (no redirect, no cancellation). The entry-point check needs the
    package installed: ``pip install -e .``."""

    @pytest.fixture
    def connector(self) -> object:
        return minimal_connector

    @pytest.fixture
    def upstream(self) -> Iterator[MinimalSandbox]:
        with MinimalSandbox() as sandbox:
            yield sandbox
