"""The TOTP second factor of local accounts: enrolment, verification, reset.

±1 step accepted; the last accepted step of each user is kept in a
``LoginThrottle`` row (``totp-step:<user id>``, the step in ``failures``) and
claimed with a conditional UPDATE, so a code is never accepted twice, even by
two workers at once. Wrong and reused codes count as failures, like wrong
passwords (:mod:`portal.identity.passwords`). Adds to the caller's session and
leaves the commit to the caller.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import pyotp
from sqlalchemy.orm import Session

from portal import audit
from portal.identity import throttle
from portal.identity.passwords import AuthResult, audit_failure, is_blocked, register_failure
from portal.identity.throttle import ThrottlePolicy
from portal.models import User, utcnow


def new_totp_secret() -> str:
    """A new random base32 TOTP secret."""
    return pyotp.random_base32()  # 160 bits


def start_enrolment(user: User) -> str:
    """The secret to show at enrolment: kept until confirmed, so a reload shows the same QR."""
    if user.totp_enrolled_at is not None:
        raise ValueError("TOTP already enrolled")
    if not user.totp_secret:
        user.totp_secret = new_totp_secret()
    return user.totp_secret


def provisioning_uri(user: User, issuer: str) -> str:
    """The ``otpauth://`` URI the QR code carries."""
    assert user.totp_secret
    return pyotp.TOTP(user.totp_secret).provisioning_uri(
        name=user.email or str(user.id), issuer_name=issuer
    )


def reset_totp(user: User) -> None:
    """Forget the second factor: the next login enrols a new one (account management)."""
    user.totp_secret = None
    user.totp_enrolled_at = None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(
    session: Session,
    user: User,
    code: str,
    *,
    policy: ThrottlePolicy,
    ip: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> AuthResult:
    """Check the second factor (enrolled, or being confirmed at enrolment).

    A successful enrolment confirmation sets ``totp_enrolled_at``. Wrong and
    reused codes count as failures, like wrong passwords.
    """
    now = now or utcnow()
    email = user.email or ""
    step_name = "totp" if user.totp_enrolled_at else "totp_enrolment"
    if is_blocked(session, email, ip, now=now):
        audit_failure(
            session, "blocked", user=user, email=email, step=step_name, ip=ip,
            request_id=request_id,
        )  # fmt: skip
        return AuthResult("blocked", user)
    code = re.sub(r"\s", "", code)
    step = None
    if user.totp_secret and re.fullmatch(r"[0-9]{6}", code):
        step = _matching_step(user.totp_secret, code, now)
    if step is None:
        reason = "wrong_code"
    elif not throttle.advance(session, f"totp-step:{user.id}", step, now):
        reason = "reused_code"
    else:
        if user.totp_enrolled_at is None:
            user.totp_enrolled_at = now
            audit.record(
                session, "totp_enrolled", actor=str(user.id), target=f"user:{user.id}",
                ip=ip, request_id=request_id,
            )  # fmt: skip
        return AuthResult("ok", user)
    register_failure(session, email, ip, policy, now=now)
    audit_failure(
        session, reason, user=user, email=email, step=step_name, ip=ip, request_id=request_id
    )
    return AuthResult(reason, user)
