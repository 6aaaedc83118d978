"""Account management: local accounts, roles and their scope, deactivation.

An ``administrateur`` manages every account. A ``gestionnaire_comptes`` sees
the users holding at least one role within their territories, changes only the
roles within them, and deactivates / resets only users whose roles all lie
within them. A role lies within a territory through its territory, its
structure's department or its practitioner's places of practice. Every change
is audited with actor and target, never a secret.

Deactivating a regulator (or revoking their last regulator role) pushes the
deactivation to the connectors at once (``provision_regulator``, INT_R02).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pluggy
from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.audit import Actor
from portal.directory import territories
from portal.identity import passwords, reset_links, second_factor
from portal.identity.provisioning import ProvisioningReport, push_deactivation
from portal.identity.reset_links import DEFAULT_RESET_VALIDITY_S
from portal.models import Practitioner, Structure, User, UserRole, utcnow
from portal.permissions import ROLE_LABELS, ROLE_SCOPES, ROLES, in_scope

# Fixed namespace: a user's technical UUID is uuid5(namespace, user id), stable for the
# life of the account without a column to store it.
#: whose account is pushed to the editors (as at login, see ``views/auth_psc.provision``)
REGULATOR_ROLES = frozenset({"regulateur"})
PAGE_SIZE = 25
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SEARCHED = (User.email, User.given_name, User.family_name, User.national_id)


class AccountError(Exception):
    """A refused change; the message (French) is shown to the user."""


class OutOfScope(AccountError):
    """The actor may not see or change this account or role (403)."""


class AccountNotFound(LookupError):
    """No such user or role (404)."""


@dataclass(frozen=True, slots=True)
class RoleSpec:
    """A role to grant, as typed in a form: scope references are codes / national ids."""

    role: str
    territory: str = ""
    structure: str = ""  # national id (1+FINESS, 3+SIRET…)
    practitioner: str = ""  # national id (8+RPPS) or RPPS


@dataclass(frozen=True, slots=True)
class UserFilter:
    q: str = ""
    role: str = ""
    territory: str = ""
    active: str = ""  # "" all, "1" active, "0" deactivated


@dataclass(frozen=True, slots=True)
class RoleView:
    id: int
    role: str
    label: str
    scope: str
    can_revoke: bool


@dataclass(slots=True)
class AccountRow:
    user: User
    roles: list[RoleView]


@dataclass(slots=True)
class UserPage:
    rows: list[AccountRow]
    total: int
    page: int
    pages: int


@dataclass(slots=True)
class AccountDetail:
    user: User
    roles: list[RoleView]
    can_manage: bool
    is_self: bool
    is_regulator: bool
    psc_only: bool  # regulator or IOA: local login only if an administrator allows it


# ---------- scope ----------


def _role_in_scope(session: Session, actor: Actor, role: UserRole) -> bool:
    if actor.national:
        return True
    codes = territories.of_scope(
        session, role.territory_code, role.structure_id, role.practitioner_id
    )
    return any(in_scope(actor.principal, "manage_accounts", territory=code) for code in codes)


def _visible(session: Session, actor: Actor) -> ColumnElement[bool] | None:
    if actor.national:
        return None
    codes = actor.principal.territories("gestionnaire_comptes")
    return territories.holding_a_role_in(session, codes)


def _load(session: Session, actor: Actor, user_id: int) -> User:
    """The user, if the actor may see them (AccountNotFound / OutOfScope otherwise)."""
    user = session.scalar(select(User).options(selectinload(User.roles)).where(User.id == user_id))
    if user is None:
        raise AccountNotFound(user_id)
    if not actor.national and not any(_role_in_scope(session, actor, r) for r in user.roles):
        raise OutOfScope("Ce compte ne relève pas de vos territoires.")
    return user


def _manageable(session: Session, actor: Actor, user: User) -> bool:
    """Whether the actor may act on the whole account (all its roles are in scope)."""
    if actor.national:
        return True
    return bool(user.roles) and all(_role_in_scope(session, actor, r) for r in user.roles)


def _require_manageable(session: Session, actor: Actor, user: User) -> None:
    if not _manageable(session, actor, user):
        raise OutOfScope("Ce compte a aussi des rôles hors de vos territoires.")


# ---------- reading ----------


def describe_roles(session: Session, actor: Actor, roles: Iterable[UserRole]) -> list[RoleView]:
    """Roles as the pages show them: label, scope in words, whether the actor may revoke."""
    roles = list(roles)
    structure_ids = {r.structure_id for r in roles if r.structure_id is not None}
    practitioner_ids = {r.practitioner_id for r in roles if r.practitioner_id is not None}
    structures = {
        s.id: f"{s.name} ({s.national_id})"
        for s in session.scalars(select(Structure).where(Structure.id.in_(structure_ids)))
    }
    practitioners = {
        p.id: f"{p.display_name} ({p.national_id})"
        for p in session.scalars(select(Practitioner).where(Practitioner.id.in_(practitioner_ids)))
    }
    views = []
    for r in sorted(roles, key=lambda r: (ROLES.index(r.role) if r.role in ROLES else 99, r.id)):
        if r.territory_code:
            scope = r.territory_code
        elif r.structure_id is not None:
            scope = structures.get(r.structure_id, f"structure {r.structure_id}")
        elif r.practitioner_id is not None:
            scope = practitioners.get(r.practitioner_id, f"PS {r.practitioner_id}")
        else:
            scope = "national"
        label = ROLE_LABELS.get(r.role, r.role)
        views.append(RoleView(r.id, r.role, label, scope, _role_in_scope(session, actor, r)))
    return views


def list_accounts(session: Session, actor: Actor, filters: UserFilter, page: int = 1) -> UserPage:
    """The accounts the actor may see, filtered, by name, one page."""
    query = select(User)
    visible = _visible(session, actor)
    if visible is not None:
        query = query.where(visible)
    for word in filters.q.split():
        pattern = f"%{word.lower()}%"
        query = query.where(or_(*(func.lower(column).like(pattern) for column in _SEARCHED)))
    if filters.role:
        query = query.where(
            exists().where(UserRole.user_id == User.id, UserRole.role == filters.role)
        )
    if filters.territory:
        codes = {filters.territory}
        query = query.where(territories.holding_a_role_in(session, codes))
    if filters.active in {"0", "1"}:
        query = query.where(User.active.is_(filters.active == "1"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    users = session.scalars(
        query.options(selectinload(User.roles))
        .order_by(User.family_name, User.given_name, User.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    rows = [AccountRow(u, describe_roles(session, actor, u.roles)) for u in users]
    return UserPage(rows, total, page, pages)


def get_account(session: Session, actor: Actor, user_id: int) -> AccountDetail:
    """One account and its roles, if the actor may see it."""
    user = _load(session, actor, user_id)
    return AccountDetail(
        user=user,
        roles=describe_roles(session, actor, user.roles),
        can_manage=_manageable(session, actor, user),
        is_self=user.id == actor.principal.user_id,
        is_regulator=any(r.role in REGULATOR_ROLES for r in user.roles),
        psc_only=any(r.role in passwords.PSC_ONLY_ROLES for r in user.roles),
    )


def grantable_roles(actor: Actor) -> list[tuple[str, str]]:
    """(role, label) pairs the actor may grant."""
    return [
        (role, ROLE_LABELS[role])
        for role in ROLES
        if actor.national or ROLE_SCOPES[role] is not None
    ]


def grantable_territories(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(code, label) of the territories the actor may grant roles in."""
    mine = actor.principal.territories("gestionnaire_comptes")
    return [
        (t.code, f"{t.code} — {t.label}")
        for t in territories.all_territories(session)
        if actor.national or t.code in mine
    ]


# ---------- changes ----------


def _resolve(session: Session, actor: Actor, spec: RoleSpec) -> dict[str, Any]:
    """Check a role to grant and turn its scope into UserRole columns."""
    if spec.role not in ROLE_SCOPES:
        raise AccountError("Rôle inconnu.")
    if spec.role == "administrateur" and not actor.national:
        raise OutOfScope("Seul un administrateur peut attribuer le rôle administrateur.")
    columns: dict[str, Any] = {"role": spec.role}
    kind = ROLE_SCOPES[spec.role]
    label = ROLE_LABELS[spec.role]
    if kind == "territory":
        code = spec.territory.strip()
        if not code or code not in {c for c, _ in grantable_territories(session, actor)}:
            raise AccountError(f"Choisissez un territoire pour le rôle « {label} ».")
        columns["territory_code"] = code
    elif kind == "structure":
        ref = spec.structure.strip()
        structure_id = session.scalar(select(Structure.id).where(Structure.national_id == ref))
        if not ref or structure_id is None:
            raise AccountError(f"Structure introuvable pour le rôle « {label} » : « {ref} ».")
        columns["structure_id"] = structure_id
    elif kind == "practitioner":
        ref = spec.practitioner.strip()
        candidates = [ref, f"8{ref}"] if len(ref) == 11 else [ref]
        practitioner_id = session.scalar(
            select(Practitioner.id).where(Practitioner.national_id.in_(candidates))
        )
        if not ref or practitioner_id is None:
            raise AccountError(f"Professionnel introuvable pour le rôle « {label} » : « {ref} ».")
        columns["practitioner_id"] = practitioner_id
    probe = UserRole(**columns)
    if not _role_in_scope(session, actor, probe):
        raise OutOfScope("Ce rôle ne relève pas de vos territoires.")
    return columns


def _add_role(session: Session, actor: Actor, user: User, columns: dict[str, Any]) -> None:
    keys = ("role", "territory_code", "structure_id", "practitioner_id")
    wanted = tuple(columns.get(k) for k in keys)
    if any(tuple(getattr(r, k) for k in keys) == wanted for r in user.roles):
        raise AccountError("Ce compte a déjà ce rôle.")
    user.roles.append(UserRole(**columns))
    actor.record(session, "role_granted", f"user:{user.id}", **{k: columns.get(k) for k in keys})


def create_account(
    session: Session,
    actor: Actor,
    *,
    email: str,
    given_name: str,
    family_name: str,
    roles: Iterable[RoleSpec] = (),
    validity_s: int = DEFAULT_RESET_VALIDITY_S,
) -> tuple[User, str]:
    """Create a local account and its first set-password link.

    :return: the user and the raw single-use token of the link (shown once, never stored).
    :raises AccountError: invalid or duplicate e-mail, invalid or out-of-scope role.
    """
    email = email.strip().lower()
    if not _EMAIL.fullmatch(email):
        raise AccountError("Adresse électronique invalide.")
    if not family_name.strip():
        raise AccountError("Le nom est obligatoire.")
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise AccountError("Un compte existe déjà avec cette adresse électronique.")
    resolved = [_resolve(session, actor, spec) for spec in roles if spec.role]
    if not resolved and not actor.national:
        raise AccountError("Attribuez au moins un rôle dans vos territoires.")
    user = User(email=email, given_name=given_name.strip(), family_name=family_name.strip())
    session.add(user)
    session.flush()
    actor.record(session, "account_created", f"user:{user.id}", roles=[c["role"] for c in resolved])
    for columns in resolved:
        _add_role(session, actor, user, columns)
    token = reset_links.issue_reset_link(
        session, user, created_by=actor.principal.user_id, validity_s=validity_s
    )
    actor.record(session, "reset_link_issued", f"user:{user.id}")
    session.commit()
    return user, token


def grant_role(session: Session, actor: Actor, user_id: int, spec: RoleSpec) -> None:
    """Give a role to a user the actor can see; audited."""
    user = _load(session, actor, user_id)
    if user.id == actor.principal.user_id:
        raise OutOfScope("Vous ne pouvez pas modifier vos propres rôles.")
    _add_role(session, actor, user, _resolve(session, actor, spec))
    session.commit()


def revoke_role(
    session: Session,
    actor: Actor,
    user_id: int,
    role_id: int,
    *,
    pm: pluggy.PluginManager,
    configs: Mapping[str, Mapping[str, Any]],
) -> ProvisioningReport:
    """Remove one role; when the last regulator role goes, the editors are told at once."""
    user = _load(session, actor, user_id)
    role = next((r for r in user.roles if r.id == role_id), None)
    if role is None:
        raise AccountNotFound(role_id)
    if user.id == actor.principal.user_id:
        raise OutOfScope("Vous ne pouvez pas modifier vos propres rôles.")
    if not _role_in_scope(session, actor, role):
        raise OutOfScope("Ce rôle ne relève pas de vos territoires.")
    was_regulator = any(r.role in REGULATOR_ROLES for r in user.roles)
    user.roles.remove(role)
    actor.record(
        session,
        "role_revoked",
        f"user:{user.id}",
        role=role.role,
        territory_code=role.territory_code,
        structure_id=role.structure_id,
        practitioner_id=role.practitioner_id,
    )
    session.commit()
    if was_regulator and not any(r.role in REGULATOR_ROLES for r in user.roles):
        return push_deactivation(session, actor, user, pm=pm, configs=configs)
    return ProvisioningReport()


def set_active(
    session: Session,
    actor: Actor,
    user_id: int,
    active: bool,
    *,
    pm: pluggy.PluginManager,
    configs: Mapping[str, Mapping[str, Any]],
) -> ProvisioningReport:
    """Deactivate (the session stops at the next request) or reactivate an account."""
    user = _load(session, actor, user_id)
    _require_manageable(session, actor, user)
    if user.id == actor.principal.user_id:
        raise AccountError("Vous ne pouvez pas désactiver votre propre compte.")
    if user.active == active:
        return ProvisioningReport()
    user.active = active
    user.deactivated_at = None if active else utcnow()
    actor.record(
        session, "account_reactivated" if active else "account_deactivated", f"user:{user.id}"
    )
    session.commit()
    # A reactivated regulator is pushed again (create/update) at their next login.
    if not active and any(r.role in REGULATOR_ROLES for r in user.roles):
        return push_deactivation(session, actor, user, pm=pm, configs=configs)
    return ProvisioningReport()


def issue_reset_link(
    session: Session, actor: Actor, user_id: int, *, validity_s: int = DEFAULT_RESET_VALIDITY_S
) -> str:
    """A new single-use set-password link for the user (raw token, shown once)."""
    user = _load(session, actor, user_id)
    _require_manageable(session, actor, user)
    token = reset_links.issue_reset_link(
        session, user, created_by=actor.principal.user_id, validity_s=validity_s
    )
    actor.record(session, "reset_link_issued", f"user:{user.id}")
    session.commit()
    return token


def reset_totp(session: Session, actor: Actor, user_id: int) -> None:
    """Forget the user's second factor: they enrol again at their next login."""
    user = _load(session, actor, user_id)
    _require_manageable(session, actor, user)
    second_factor.reset_totp(user)
    actor.record(session, "totp_reset", f"user:{user.id}")
    session.commit()


def allow_local_regulator(session: Session, actor: Actor, user_id: int, allowed: bool) -> None:
    """Let a regulator log in with a local account (an exception to PSC-only; admin only)."""
    if not actor.national:
        raise OutOfScope("Réservé aux administrateurs.")
    user = _load(session, actor, user_id)
    user.allow_local_regulator = allowed
    actor.record(session, "local_regulator_allowed", f"user:{user.id}", allowed=allowed)
    session.commit()


# ---------- provisioning (INT_R02) ----------
