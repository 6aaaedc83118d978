"""The login transactions: each function is one step of a login or logout, committed.

The views (``portal/views/auth*.py``) parse the request and call one of these;
the service owns the transaction (views never commit). The lower-level rules
(password checks, TOTP steps, throttling) live in :mod:`portal.identity.passwords`,
:mod:`~portal.identity.second_factor` and :mod:`~portal.identity.reset_links`,
which add to the caller's session and leave the commit here.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.identity import passwords, reset_links
from portal.identity import second_factor as totp
from portal.identity.psc import PscError
from portal.identity.throttle import ThrottlePolicy
from portal.models import User, utcnow

log = logging.getLogger(__name__)


class PscIdentity(Protocol):
    """What a Pro Santé Connect login tells about the person (``portal.web.psc.Identity``)."""

    @property
    def subject(self) -> str: ...
    @property
    def sub(self) -> str: ...
    @property
    def national_id(self) -> str: ...
    @property
    def given_name(self) -> str: ...
    @property
    def family_name(self) -> str: ...
    @property
    def acr(self) -> str | None: ...
    @property
    def exercices(self) -> list[dict[str, Any]]: ...


def first_factor(
    session: Session,
    email: str,
    password: str,
    *,
    policy: ThrottlePolicy,
    ip: str | None = None,
    request_id: str | None = None,
) -> passwords.AuthResult:
    """Check e-mail and password; the failure count and audit event are committed either way."""
    result = passwords.authenticate(
        session, email, password, policy=policy, ip=ip, request_id=request_id
    )
    session.commit()
    return result


def second_factor(
    session: Session,
    user: User,
    code: str,
    *,
    policy: ThrottlePolicy,
    ip: str | None = None,
    request_id: str | None = None,
) -> passwords.AuthResult:
    """Check the TOTP code; on success record the login (throttle cleared, audited). Commits.

    The caller then opens the web session (``portal.web.session.login(user, "local")``).
    """
    result = totp.verify_totp(session, user, code, policy=policy, ip=ip, request_id=request_id)
    if result.ok:
        passwords.record_login(session, user, ip=ip, request_id=request_id)
        user.last_login_at = utcnow()
    session.commit()
    return result


def start_enrolment(session: Session, user: User) -> str:
    """The user's new (or pending) TOTP secret, saved before it is shown."""
    secret = totp.start_enrolment(user)
    session.commit()
    return secret


def reset_password(
    session: Session,
    token: str,
    password: str,
    confirm: str,
    *,
    ip: str | None = None,
    request_id: str | None = None,
) -> None:
    """Set the password through a single-use link, committed.

    :raises reset_links.InvalidResetToken: the link is unknown, used or expired.
    :raises passwords.PasswordPolicyError: the password is refused (nothing is saved).
    """
    reset_links.complete_password_reset(
        session, token, password, confirm, ip=ip, request_id=request_id
    )
    session.commit()


def record_logout(
    session: Session, user_id: int, *, ip: str | None = None, request_id: str | None = None
) -> None:
    """Audit a logout, committed."""
    audit.record(session, "logout", actor=str(user_id), ip=ip, request_id=request_id)
    session.commit()


def psc_account(session: Session, identity: PscIdentity) -> User:
    """The portal account of a PSC identity; binds the PSC subject on first login.

    :raises PscError: ``unknown_account`` or ``deactivated``.
    """
    user = session.scalar(select(User).where(User.oidc_subject == identity.subject))
    if user is None:
        candidates = session.scalars(
            select(User).where(User.national_id == identity.national_id).order_by(User.id)
        ).all()
        user = next((u for u in candidates if u.active), candidates[0] if candidates else None)
    if user is None:
        raise PscError("unknown_account", f"sub {identity.sub}", national_id=identity.national_id)
    if not user.active:
        raise PscError("deactivated", f"user {user.id}", national_id=identity.national_id)
    if user.oidc_subject != identity.subject:
        if user.oidc_subject:  # e.g. moved from the sandbox to production
            log.warning("user %s: PSC subject %s replaced", user.id, user.oidc_subject)
        user.oidc_subject = identity.subject
    if identity.given_name:
        user.given_name = identity.given_name
    if identity.family_name:
        user.family_name = identity.family_name
    return user


def psc_login(
    session: Session,
    identity: PscIdentity,
    *,
    ip: str | None = None,
    request_id: str | None = None,
) -> User:
    """Find the account of a PSC identity, bind it, audit the login; committed.

    :raises PscError: ``unknown_account`` or ``deactivated`` (nothing is saved: the
        caller records the refusal with :func:`psc_refused`).
    """
    user = psc_account(session, identity)
    user.last_login_at = utcnow()
    details: dict[str, object] = {
        "method": "psc", "acr": identity.acr, "exercices": identity.exercices,
    }  # fmt: skip
    audit.record(session, "login", actor=str(user.id), target=identity.national_id,
                 details=details, ip=ip, request_id=request_id)  # fmt: skip
    session.commit()
    return user


def psc_refused(
    session: Session, error: PscError, *, ip: str | None = None, request_id: str | None = None
) -> None:
    """Audit a refused Pro Santé Connect login, committed."""
    audit.record(
        session, "login_failed", actor=None, target=error.national_id,
        details={"method": "psc", "reason": error.reason, "detail": error.detail[:500]},
        ip=ip, request_id=request_id,
    )  # fmt: skip
    session.commit()
