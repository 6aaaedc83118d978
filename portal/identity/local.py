"""Local accounts: passwords, the TOTP second factor, login throttling, reset links.

A service without Flask request objects: the views pass the values in (form
fields, client address, request id, ``now``). Every function adds to the
caller's SQLAlchemy session and leaves the commit to the caller.

- Passwords are hashed with argon2id (``argon2-cffi`` defaults, RFC 9106 low
  memory profile) and rehashed at login when the parameters change.
- Unknown e-mail, wrong password, inactive account and account without a local
  password get the same message and the same work (one argon2 verification).
- Throttling counts failures per account and per client address in
  ``LoginThrottle`` rows, shared by every worker. Account keys hold a sha256 of
  the typed e-mail, never the typed text (it may be a mistyped password).
- TOTP: ±1 step accepted; the last accepted step of each user is kept in a
  ``LoginThrottle`` row (``totp-step:<user id>``, the step in ``failures``) and
  claimed with a conditional UPDATE, so a code is never accepted twice, even by
  two workers at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.identity import throttle
from portal.identity.throttle import ThrottlePolicy
from portal.models import PasswordResetToken, User, utcnow

MIN_PASSWORD_LENGTH: Final = 12
MAX_PASSWORD_LENGTH: Final = 256  # argon2 copes, but a megabyte "password" is an attack
FIRST_FACTOR_VALIDITY_S: Final = 300  # password accepted, TOTP still to come
PSC_ONLY_ROLES: Final = frozenset({"regulateur", "ioa"})

MSG_BAD_CREDENTIALS: Final = "Identifiants incorrects."
MSG_BLOCKED: Final = "Trop de tentatives : réessayez dans quelques minutes."
MSG_PSC_ONLY: Final = (
    "Les régulateurs et les IOA se connectent avec Pro Santé Connect "
    "(carte CPS, e-CPS). Un compte local ne leur est ouvert que sur décision "
    "d'un administrateur."
)
MSG_BAD_CODE: Final = (
    "Code incorrect ou déjà utilisé : saisissez le code affiché par l'application."
)
MSG_RESET_INVALID: Final = (
    "Ce lien n'est pas valable : il a expiré, a déjà servi ou est incomplet. "
    "Demandez un nouveau lien à votre gestionnaire de comptes."
)

_MESSAGES: Final = {
    "blocked": MSG_BLOCKED,
    "psc_only": MSG_PSC_ONLY,
    "wrong_code": MSG_BAD_CODE,
    "reused_code": MSG_BAD_CODE,
}
_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()  # argon2id; defaults or stronger only


# ---------------------------------------------------------------- results, errors


@dataclass(frozen=True, slots=True)
class AuthResult:
    """The outcome of one login step.

    ``reason`` is ``ok``, ``blocked``, ``unknown_account``, ``wrong_password``,
    ``inactive``, ``no_local_password``, ``psc_only``, ``wrong_code`` or
    ``reused_code``; ``message`` is what the user may be told.
    """

    reason: str
    user: User | None = None

    @property
    def ok(self) -> bool:
        return self.reason == "ok"

    @property
    def message(self) -> str:
        return _MESSAGES.get(self.reason, MSG_BAD_CREDENTIALS)


class PasswordPolicyError(ValueError):
    """The new password breaks the policy; ``problems`` are French sentences."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class InvalidResetToken(LookupError):
    """Unknown, used or expired reset token (deliberately without detail)."""


# ---------------------------------------------------------------- passwords


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _normalize_password(password: str) -> str:
    # the same passphrase typed on two keyboards must give the same bytes
    return unicodedata.normalize("NFC", password)


def password_problems(password: str, email: str | None, confirm: str | None = None) -> list[str]:
    """What is wrong with a new password (empty list: acceptable)."""
    problems = []
    password = _normalize_password(password)
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Le mot de passe ne doit pas dépasser {MAX_PASSWORD_LENGTH} caractères.")
    if email and password.strip().lower() == normalize_email(email):
        problems.append("Le mot de passe ne doit pas être votre adresse e-mail.")
    if confirm is not None and _normalize_password(confirm) != password:
        problems.append("Les deux saisies du mot de passe ne sont pas identiques.")
    return problems


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string) of ``password``."""
    return _hasher.hash(_normalize_password(password))


def set_password(user: User, password: str, *, now: datetime | None = None) -> None:
    """Check the policy and store the new hash; raises :class:`PasswordPolicyError`."""
    problems = password_problems(password, user.email)
    if problems:
        raise PasswordPolicyError(problems)
    user.password_hash = hash_password(password)
    user.password_changed_at = now or utcnow()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _verify(stored: str | None, password: str) -> bool:
    """argon2 verification; a missing hash costs the same as a real one."""
    try:
        ok = _hasher.verify(stored or _dummy_hash(), _normalize_password(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and stored is not None


# ---------------------------------------------------------------- throttling


def _account_key(email: str) -> str:
    return "account:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()


def _ip_key(ip: str | None) -> str | None:
    return f"ip:{ip}"[:300] if ip else None


def _keys(email: str, ip: str | None) -> list[str]:
    return [k for k in (_account_key(email), _ip_key(ip)) if k]


def is_blocked(
    session: Session, email: str, ip: str | None, *, now: datetime | None = None
) -> bool:
    """Whether the account (typed e-mail) or the client address is currently blocked."""
    return throttle.is_blocked(session, _keys(email, ip), now or utcnow())


def register_failure(
    session: Session,
    email: str,
    ip: str | None,
    policy: ThrottlePolicy,
    *,
    now: datetime | None = None,
) -> None:
    """Count one failed attempt against the account and the client address."""
    now = now or utcnow()
    throttle.count_failure(session, _account_key(email), policy.max_failures, policy, now)
    ip_key = _ip_key(ip)
    if ip_key:
        throttle.count_failure(session, ip_key, policy.ip_max_failures, policy, now)


def clear_account_throttle(session: Session, email: str) -> None:
    """Forget the failures of one account (login, new password, an administrator's unblock)."""
    throttle.clear(session, _account_key(email))


def purge_throttles(
    session: Session, policy: ThrottlePolicy, *, now: datetime | None = None
) -> int:
    """Delete account/address rows whose window and block are over (housekeeping job)."""
    return throttle.purge(session, policy, ("account:", "ip:"), now or utcnow())


# ---------------------------------------------------------------- first factor


def _audit_failure(
    session: Session,
    reason: str,
    *,
    user: User | None,
    email: str,
    step: str,
    ip: str | None,
    request_id: str | None,
) -> None:
    typed = normalize_email(email)
    # only something shaped like an address is kept: never a password typed in the wrong field
    target = typed if _EMAIL_RE.match(typed) and len(typed) <= 200 else None
    audit.record(
        session,
        "login_failed",
        actor=str(user.id) if user is not None else None,
        target=target,
        details={"method": "local", "step": step, "reason": reason},
        ip=ip,
        request_id=request_id,
    )


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail (case-insensitive), roles loaded."""
    return session.scalar(
        select(User)
        .options(selectinload(User.roles))
        .where(func.lower(User.email) == normalize_email(email))
    )


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    policy: ThrottlePolicy,
    ip: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> AuthResult:
    """Check e-mail and password (the first factor); the caller then asks for the TOTP.

    Failures are counted and audited here. ``psc_only`` is only ever told to
    someone who typed the right password.
    """
    now = now or utcnow()
    email = email.strip()[:254]
    if is_blocked(session, email, ip, now=now):
        _audit_failure(
            session, "blocked", user=None, email=email, step="password", ip=ip,
            request_id=request_id,
        )  # fmt: skip
        return AuthResult("blocked")
    user = find_user_by_email(session, email) if email else None
    password_ok = _verify(user.password_hash if user else None, password[:MAX_PASSWORD_LENGTH])
    if user is None:
        reason = "unknown_account"
    elif user.password_hash is None:
        reason = "no_local_password"
    elif not password_ok:
        reason = "wrong_password"
    elif not user.active:
        reason = "inactive"
    elif {r.role for r in user.roles} & PSC_ONLY_ROLES and not user.allow_local_regulator:
        reason = "psc_only"
    else:
        reason = "ok"
    if reason != "ok":
        if reason != "psc_only":  # the right password is not a guess
            register_failure(session, email, ip, policy, now=now)
        _audit_failure(
            session, reason, user=user, email=email, step="password", ip=ip,
            request_id=request_id,
        )  # fmt: skip
        return AuthResult(reason, user if reason == "psc_only" else None)
    assert user is not None and user.password_hash is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return AuthResult("ok", user)


# ---------------------------------------------------------------- TOTP


def new_totp_secret() -> str:
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
        _audit_failure(
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
    _audit_failure(
        session, reason, user=user, email=email, step=step_name, ip=ip, request_id=request_id
    )
    return AuthResult(reason, user)


def record_login(
    session: Session,
    user: User,
    *,
    ip: str | None = None,
    request_id: str | None = None,
) -> None:
    """Both factors passed: forget the account's failures and audit the login.

    The caller then starts the session with ``portal.web.session.login(user, "local")``.
    """
    clear_account_throttle(session, user.email or "")
    audit.record(
        session, "login", actor=str(user.id), details={"method": "local"}, ip=ip,
        request_id=request_id,
    )  # fmt: skip


# ---------------------------------------------------------------- reset links


DEFAULT_RESET_VALIDITY_S: Final = 72 * 3600


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
