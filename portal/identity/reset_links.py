"""Single-use set-password links for local accounts: issue, check, complete.

Only the sha256 of a link's token is stored (``PasswordResetToken``); a new link
invalidates the user's earlier unused ones. Adds to the caller's session and
leaves the commit to the caller.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal import audit
from portal.identity.passwords import (
    PasswordPolicyError,
    clear_account_throttle,
    password_problems,
    set_password,
)
from portal.models import PasswordResetToken, User, utcnow

DEFAULT_RESET_VALIDITY_S: Final = 72 * 3600
MSG_RESET_INVALID: Final = (
    "Ce lien n'est pas valable : il a expiré, a déjà servi ou est incomplet. "
    "Demandez un nouveau lien à votre gestionnaire de comptes."
)


class InvalidResetToken(LookupError):
    """Unknown, used or expired reset token (deliberately without detail)."""


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_reset_link(
    session: Session,
    user: User,
    created_by: int | None,
    now: datetime | None = None,
    *,
    validity_s: int = DEFAULT_RESET_VALIDITY_S,
) -> str:
    """A new single-use token for ``/mot-de-passe/<token>``; only its sha256 is stored.

    Valid ``validity_s`` (the instance's ``PASSWORD_RESET_VALIDITY_S``; 72 h by default).
    Earlier unused links of the user stop working: only the latest one is valid.
    The caller audits (it knows who asked, from where).
    """
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    _invalidate_tokens(session, user.id, now)
    session.add(
        PasswordResetToken(
            user_id=user.id,
            token_hash=_token_hash(raw),
            created_at=now,
            expires_at=now + timedelta(seconds=validity_s),
            created_by=created_by,
        )
    )
    session.flush()
    return raw


def _invalidate_tokens(session: Session, user_id: int, now: datetime) -> None:
    session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


def reset_token_user(session: Session, raw: str, *, now: datetime | None = None) -> User | None:
    """The active user a still-valid token belongs to, or None."""
    now = now or utcnow()
    if not raw or len(raw) > 100:
        return None
    token = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == _token_hash(raw))
    )
    if token is None or token.used_at is not None or token.expires_at <= now:
        return None
    user = session.get(User, token.user_id)
    return user if user is not None and user.active else None


def complete_password_reset(
    session: Session,
    raw: str,
    password: str,
    confirm: str,
    *,
    ip: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> User:
    """Set the password through a reset link; the link and its siblings stop working.

    The TOTP enrolment is kept (``reset_totp`` is a separate decision).
    Raises :class:`InvalidResetToken` or :class:`PasswordPolicyError`.
    """
    now = now or utcnow()
    user = reset_token_user(session, raw, now=now)
    if user is None:
        raise InvalidResetToken
    problems = password_problems(password, user.email, confirm)
    if problems:
        raise PasswordPolicyError(problems)
    used = session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.token_hash == _token_hash(raw))
        .where(PasswordResetToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidResetToken  # the same link submitted twice at once
    _invalidate_tokens(session, user.id, now)
    set_password(user, password, now=now)
    clear_account_throttle(session, user.email or "")
    audit.record(
        session, "password_set", actor=str(user.id), target=f"user:{user.id}",
        details={"via": "reset_link"}, ip=ip, request_id=request_id,
    )  # fmt: skip
    return user
