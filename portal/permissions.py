"""Who may do what: the single permission table of the portal.

Roles (a user may hold several, each possibly scoped) × actions, and every
endpoint mapped to the action it needs. The table drives both the views (a
``before_request`` check, so a fragment URL requested directly is protected
too) and the menus. An endpoint missing from ``ENDPOINTS`` is refused (fail
closed) and makes the route × role test fail.

Scope rules: ``gestionnaire_comptes`` and ``referent_territorial`` act within
their territories, ``gestionnaire_structure`` within their structures,
``delegataire`` for the practitioners they act for; ``administrateur`` is
national. Every grant carries the scope ``ROLE_SCOPES`` names for its role.
Scoped checks are done by the services with :func:`in_scope`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

ROLES: Final = (
    "regulateur",  # ARM, OSNP, médecin régulateur
    "ioa",  # infirmier organisateur de l'accueil
    "effecteur",  # professionnel de santé
    "gestionnaire_structure",
    "delegataire",
    "gestionnaire_comptes",
    "referent_territorial",
    "administrateur",
)
ROLE_LABELS: Final = {
    "regulateur": "Régulateur",
    "ioa": "IOA",
    "effecteur": "Professionnel de santé",
    "gestionnaire_structure": "Gestionnaire de structure",
    "delegataire": "Délégataire",
    "gestionnaire_comptes": "Gestionnaire de comptes",
    "referent_territorial": "Référent territorial",
    "administrateur": "Administrateur",
}

#: role → the scope every grant of it must carry (None = national, unscoped)
ROLE_SCOPES: Final[dict[str, str | None]] = {
    "regulateur": "territory",
    "ioa": "territory",
    "effecteur": "practitioner",  # the user's own practitioner row
    "gestionnaire_structure": "structure",
    "delegataire": "practitioner",  # the practitioner acted for
    "gestionnaire_comptes": "territory",
    "referent_territorial": "territory",
    "administrateur": None,
}

#: action → roles allowed to perform it
ACTIONS: Final[dict[str, frozenset[str]]] = {
    "search": frozenset({"regulateur", "ioa"}),
    "manage_participation": frozenset({"effecteur", "delegataire"}),
    "manage_structures": frozenset({"gestionnaire_structure", "administrateur"}),
    "manage_accounts": frozenset({"gestionnaire_comptes", "administrateur"}),
    "allow_local_regulator": frozenset({"administrateur"}),
    "view_connectors": frozenset({"administrateur", "referent_territorial"}),
    "manage_connectors": frozenset({"administrateur"}),
    "view_audit": frozenset({"administrateur"}),
    "export_audit": frozenset({"administrateur"}),
    "manage_lrm_origins": frozenset({"administrateur"}),
}

PUBLIC: Final = "public"  # no login needed
AUTHENTICATED: Final = "authenticated"  # any logged-in user

#: endpoint → action (or PUBLIC / AUTHENTICATED)
ENDPOINTS: Final[dict[str, str]] = {
    "static": PUBLIC,
    "health.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": AUTHENTICATED,
    "auth.no_access": AUTHENTICATED,
    "auth.psc_start": PUBLIC,
    "auth.psc_callback": PUBLIC,
    "auth.local_login": PUBLIC,
    "auth.totp": PUBLIC,  # second step; the view checks the first factor in session
    "auth.totp_enrol": PUBLIC,  # idem
    "auth.password_reset": PUBLIC,  # single-use token in the URL
    "index": AUTHENTICATED,
    "search.page": "search",
    "search.communes": "search",
    "search.slots": "search",
    "booking.reserve": "search",  # the slot's owner answers (an editor: its booking page)
    "participation.page": "manage_participation",
    "participation.update": "manage_participation",
    "structures.index": "manage_structures",
    "accounts.index": "manage_accounts",
    "accounts.create": "manage_accounts",
    "accounts.detail": "manage_accounts",
    "accounts.grant": "manage_accounts",
    "accounts.revoke": "manage_accounts",
    "accounts.deactivate": "manage_accounts",
    "accounts.reactivate": "manage_accounts",
    "accounts.reset_link": "manage_accounts",
    "accounts.reset_totp": "manage_accounts",
    "accounts.allow_local": "allow_local_regulator",
    "admin.connectors": "view_connectors",
    "admin.kill_switch": "manage_connectors",
    "admin.confirm_kill": "manage_connectors",
    "admin.refresh_status": "view_connectors",
    "admin.refresh_source": "manage_connectors",
    "bindings.index": "view_connectors",
    "bindings.add": "manage_connectors",
    "bindings.remove": "manage_connectors",
    "audit.index": "view_audit",
    "audit.export": "export_audit",
    "lrm_origins.index": "manage_lrm_origins",
    "lrm_origins.create": "manage_lrm_origins",
    "lrm_origins.toggle": "manage_lrm_origins",
}


@dataclass(frozen=True, slots=True)
class Grant:
    """One role held by a user, with its scope (None = unscoped)."""

    role: str
    territory: str | None = None
    structure_id: int | None = None
    practitioner_id: int | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """The logged-in user as the permission checks see it."""

    user_id: int
    display_name: str
    national_id: str | None
    grants: tuple[Grant, ...] = ()
    auth_method: str = "local"  # psc | local
    roles: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(g.role for g in self.grants))

    def territories(self, role: str | None = None) -> set[str]:
        return {
            g.territory for g in self.grants if g.territory and (role is None or g.role == role)
        }

    def structure_ids(self) -> set[int]:
        return {g.structure_id for g in self.grants if g.structure_id is not None}

    def practitioner_ids(self) -> set[int]:
        return {g.practitioner_id for g in self.grants if g.practitioner_id is not None}


def can(principal: Principal | None, action: str) -> bool:
    """Whether ``principal`` may perform ``action`` at all (scope checked separately)."""
    if action == PUBLIC:
        return True
    if principal is None:
        return False
    if action == AUTHENTICATED:
        return True
    return bool(ACTIONS.get(action, frozenset()) & principal.roles)


def endpoint_action(endpoint: str | None) -> str | None:
    """The action an endpoint needs; None when the endpoint is not in the table."""
    return ENDPOINTS.get(endpoint or "")


def in_scope(
    principal: Principal,
    action: str,
    *,
    territory: str | None = None,
    structure_id: int | None = None,
    practitioner_id: int | None = None,
) -> bool:
    """Whether ``principal`` may perform ``action`` on this territory / structure / PS."""
    for grant in principal.grants:
        if grant.role not in ACTIONS.get(action, frozenset()):
            continue
        if grant.role == "administrateur":
            return True
        if territory is not None and grant.territory == territory:
            return True
        if structure_id is not None and grant.structure_id == structure_id:
            return True
        if practitioner_id is not None and grant.practitioner_id == practitioner_id:
            return True
        if (
            grant.role == "effecteur"
            and practitioner_id is not None
            and grant.practitioner_id is None
        ):
            return False
    return False


@dataclass(frozen=True, slots=True)
class MenuItem:
    endpoint: str
    label: str


#: the main menu, in order; each item shows only to those who may open it
MENU: Final = (
    MenuItem("search.page", "Recherche"),
    MenuItem("participation.page", "Ma participation"),
    MenuItem("structures.index", "Mes structures"),
    MenuItem("accounts.index", "Comptes"),
    MenuItem("admin.connectors", "Connecteurs"),
    MenuItem("audit.index", "Journal d'audit"),
    MenuItem("lrm_origins.index", "Origines LRM"),
)


def menu_for(principal: Principal | None, available: Iterable[str]) -> list[MenuItem]:
    """Menu items this principal may open, among the endpoints the app has."""
    have = set(available)
    return [
        item
        for item in MENU
        if item.endpoint in have and can(principal, ENDPOINTS.get(item.endpoint, ""))
    ]


def home_endpoint(principal: Principal) -> str:
    """Where a user lands after login when they did not ask for a page."""
    for item in MENU:
        if can(principal, ENDPOINTS[item.endpoint]):
            return item.endpoint
    return "auth.no_access"
