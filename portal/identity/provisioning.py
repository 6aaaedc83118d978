"""Regulator accounts pushed to the editors that take them (INT_R02).

At login a regulator's account is pushed (create/update) in the background, so the
login never waits for the editors; a deactivation is pushed at once and its failures
are reported to the administrator. Every failure is audited. Retrying failures is the
job of the transactional outbox that comes with the booking issue.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
from sqlalchemy.orm import Session

from portal import audit
from portal.audit import Actor
from portal.domain import RegulatorAccount
from portal.identifiers import IDNPS_SYSTEM, SAS_SYSTEM
from portal.models import User
from portal.plugins import Outcome, call_each

log = logging.getLogger(__name__)

_ACCOUNT_NAMESPACE = uuid.UUID("5b6f2d0e-6a3c-4c59-9a57-2f0f3e9c1a47")
PROVISIONING_DEADLINE_S = 5.0
REGULATOR_ROLES = frozenset({"regulateur"})

_background: set[threading.Thread] = set()
_background_lock = threading.Lock()


@dataclass(slots=True)
class ProvisioningReport:
    """Connectors that could not be told of a change (they are audited)."""

    failures: list[tuple[str, str]] = field(default_factory=list)  # (plugin, error)


def regulator_account(user: User, *, active: bool) -> RegulatorAccount:
    """The account pushed to editors: national id (IDNPS) if any, else the SAS technical UUID."""
    if user.national_id:
        system, value = IDNPS_SYSTEM, user.national_id
    else:
        system, value = SAS_SYSTEM, str(uuid.uuid5(_ACCOUNT_NAMESPACE, str(user.id)))
    return RegulatorAccount(
        identifier_system=system,
        identifier_value=value,
        family_name=user.family_name,
        given_name=user.given_name,
        email=user.email,
        active=active,
    )


def _push(
    pm: pluggy.PluginManager, account: RegulatorAccount, configs: Mapping[str, Mapping[str, Any]]
) -> dict[str, Outcome]:
    return call_each(
        pm,
        "provision_regulator",
        account=account,
        configs=configs,
        deadline=PROVISIONING_DEADLINE_S,
    )


def _failures(outcomes: Mapping[str, Outcome]) -> list[tuple[str, str]]:
    return [
        (name, f"{type(outcome.error).__name__}: {outcome.error}"[:300])
        for name, outcome in sorted(outcomes.items())
        if outcome.error is not None
    ]


def push_deactivation(
    session: Session,
    actor: Actor,
    user: User,
    *,
    pm: pluggy.PluginManager,
    configs: Mapping[str, Mapping[str, Any]],
) -> ProvisioningReport:
    """Tell every connector with regulator accounts that this one is deactivated.

    Called after the deactivation is committed: a failing or slow connector never
    blocks it; each failure is audited and reported.
    """
    outcomes = _push(pm, regulator_account(user, active=False), configs)
    report = ProvisioningReport(_failures(outcomes))
    for name, error in report.failures:
        actor.record(
            session,
            "provisioning_failed",
            f"user:{user.id}",
            plugin=name,
            active=False,
            error=error,
        )
    if report.failures:
        session.commit()
    return report


def provision_at_login(
    new_session: Callable[[], Session],
    pm: pluggy.PluginManager,
    user: User,
    configs: Mapping[str, Mapping[str, Any]],
) -> threading.Thread | None:
    """Push a regulator's account after login, in the background (never blocks the login).

    :param new_session: the session factory (``sessionmaker``) of the background thread:
        the request's session is not shared across threads.
    :returns: the thread doing it, or None when the user is not a regulator.
    """
    if not any(r.role in REGULATOR_ROLES for r in user.roles):
        return None
    account = regulator_account(user, active=True)
    user_id = user.id

    def run() -> None:
        try:
            failures = _failures(_push(pm, account, configs))
            if failures:
                with new_session() as session:
                    for name, error in failures:
                        log.warning("provision_regulator %s for user %s: %s", name, user_id, error)
                        audit.record(
                            session,
                            "provisioning_failed",
                            actor=str(user_id),
                            target=f"user:{user_id}",
                            details={"plugin": name, "active": True, "error": error},
                        )
                    session.commit()
        except Exception:  # a background push must never take anything down with it
            log.exception("provisioning of regulator %s failed", user_id)
        finally:
            with _background_lock:
                _background.discard(threading.current_thread())

    thread = threading.Thread(target=run, name=f"provision-{user_id}", daemon=True)
    with _background_lock:
        _background.add(thread)
    thread.start()
    return thread


def wait_for_background(timeout_s: float = 10.0) -> None:
    """Wait for the pushes still under way (tests, clean shutdown)."""
    with _background_lock:
        threads = list(_background)
    for thread in threads:
        thread.join(timeout_s)
