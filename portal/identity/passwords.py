"""Local accounts: the password policy, hashing, and the first login factor.

A service without Flask request objects: the views pass the values in (form
fields, client address, request id, ``now``). Every function adds to the
caller's SQLAlchemy session and leaves the commit to the caller.

- Passwords are hashed with argon2id (``argon2-cffi`` defaults, RFC 9106 low
  memory profile) and rehashed at login when the parameters change.
- Unknown e-mail, wrong password, inactive account and account without a local
  password get the same message and the same work (one argon2 verification).
- Throttling counts failures per account and per client address in
  ``LoginThrottle`` rows (:mod:`portal.identity.throttle`), shared by every
  worker. Account keys hold a sha256 of the typed e-mail, never the typed text
  (it may be a mistyped password).

The second factor is in :mod:`portal.identity.second_factor`, the set-password
links in :mod:`portal.identity.reset_links`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from portal import audit
from portal.identity import throttle
from portal.identity.throttle import ThrottlePolicy
from portal.models import User, utcnow

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


# ---------------------------------------------------------------- passwords


def normalize_email(email: str) -> str:
    """The e-mail as compared and stored: trimmed, lower case."""
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


def audit_failure(
    session: Session,
    reason: str,
    *,
    user: User | None,
    email: str,
    step: str,
    ip: str | None,
    request_id: str | None,
) -> None:
    """Audit one failed login step; the typed e-mail is kept only if shaped like one."""
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
        audit_failure(
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
        audit_failure(
            session, reason, user=user, email=email, step="password", ip=ip,
            request_id=request_id,
        )  # fmt: skip
        return AuthResult(reason, user if reason == "psc_only" else None)
    assert user is not None and user.password_hash is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return AuthResult("ok", user)


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
