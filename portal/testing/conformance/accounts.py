"""Contract of regulator accounts (``provision_regulator``, INT_R02)."""

from __future__ import annotations

import pluggy
import pytest

from portal.domain import ConnectorInfo, RegulatorAccount
from portal.errors import AuthError, ConnectorError
from portal.identifiers import IDNPS_SYSTEM
from portal.testing.conformance.base import ConnectorContract
from portal.testing.conformance.upstream import Upstream


class AccountsContract(ConnectorContract):
    """``provision_regulator`` pushes accounts (INT_R02) and reports failures as errors.
    The connector claims ``accounts``; the upstream simulates ``error`` and ``auth``."""

    @pytest.fixture
    def account(self) -> RegulatorAccount:
        return RegulatorAccount(
            identifier_system=IDNPS_SYSTEM,
            identifier_value="810000000003",
            family_name="Marius",
            given_name="Jeanne",
            email="jeanne.marius@samu.invalid",
        )

    def provision(
        self, pm: pluggy.PluginManager, upstream: Upstream, account: RegulatorAccount
    ) -> None:
        pm.hook.provision_regulator(account=account, config=upstream.config)

    def test_provisioning_creates_updates_and_deactivates(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        account: RegulatorAccount,
    ) -> None:
        self.require_capability("AccountsContract", info, "accounts")
        self.provision(conformance_pm, upstream, account)
        self.provision(conformance_pm, upstream, account)  # again: an update, not an error
        inactive = RegulatorAccount(
            account.identifier_system,
            account.identifier_value,
            account.family_name,
            account.given_name,
            account.email,
            active=False,
        )
        self.provision(conformance_pm, upstream, inactive)

    def test_provisioning_failures_are_connector_errors(
        self,
        conformance_pm: pluggy.PluginManager,
        info: ConnectorInfo,
        upstream: Upstream,
        account: RegulatorAccount,
    ) -> None:
        self.require_capability("AccountsContract", info, "accounts")
        self.require_modes("AccountsContract", upstream, "error", "auth")
        upstream.set_behaviour("error")
        with pytest.raises(ConnectorError) as raised:
            self.provision(conformance_pm, upstream, account)
        assert raised.value.retryable, "a 5xx is worth retrying (the portal's outbox does)"
        upstream.set_behaviour("auth")
        with pytest.raises(AuthError):
            self.provision(conformance_pm, upstream, account)
