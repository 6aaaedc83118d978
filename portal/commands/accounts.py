"""``sas-portal accounts …``: local accounts from the command line.

``create-admin`` bootstraps a fresh install: the first administrator cannot be
created from the web (nobody is logged in yet).
"""

from __future__ import annotations

import re

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from portal import audit, db
from portal.identity import passwords, reset_links
from portal.models import User, UserRole

accounts_cli = AppGroup("accounts", help="Comptes locaux (administration).")

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@accounts_cli.command("create-admin")
@click.argument("email")
@click.option("--prenom", "given_name", default="", help="Prénom de l'administrateur.")
@click.option("--nom", "family_name", default="", help="Nom de l'administrateur.")
@click.option(
    "--base-url",
    default=None,
    help="Adresse publique du portail pour le lien (défaut : PUBLIC_URL, sinon http://localhost:5000).",
)
@click.option(
    "--nouveau-lien",
    "reissue",
    is_flag=True,
    help="Le compte existe déjà : émettre un nouveau lien (les précédents ne servent plus).",
)
def create_admin_command(
    email: str, given_name: str, family_name: str, base_url: str | None, reissue: bool
) -> None:
    """Crée un administrateur national local et affiche son lien (usage unique) de
    choix du mot de passe. La double authentification (TOTP) est enregistrée à la
    première connexion."""
    email = passwords.normalize_email(email)
    if not _EMAIL_RE.match(email):
        raise click.BadParameter("adresse e-mail invalide", param_hint="EMAIL")
    session = db.session()
    user = passwords.find_user_by_email(session, email)
    if user is not None and not reissue:
        raise click.ClickException(
            f"un compte existe déjà pour {email} (--nouveau-lien pour émettre un nouveau lien)"
        )
    if user is not None and "administrateur" not in {r.role for r in user.roles}:
        raise click.ClickException(f"{email} n'est pas administrateur : rien n'est changé")
    created = user is None
    if user is None:
        user = User(email=email, given_name=given_name, family_name=family_name, active=True)
        user.roles.append(UserRole(role="administrateur"))
        session.add(user)
        session.flush()
        audit.record(
            session, "account_created", actor="cli", target=f"user:{user.id}",
            details={"roles": ["administrateur"], "via": "create-admin"},
        )  # fmt: skip
    token = reset_links.issue_reset_link(
        session,
        user,
        created_by=None,
        validity_s=int(current_app.config["PASSWORD_RESET_VALIDITY_S"]),
    )
    audit.record(
        session, "reset_link_issued", actor="cli", target=f"user:{user.id}",
        details={"via": "create-admin"},
    )  # fmt: skip
    session.commit()
    base = (base_url or current_app.config.get("PUBLIC_URL") or "http://localhost:5000").rstrip("/")
    with current_app.test_request_context(base_url=base):
        link = url_for("auth.password_reset", token=token, _external=True)
    hours = int(current_app.config["PASSWORD_RESET_VALIDITY_S"]) // 3600
    click.echo(f"Administrateur {email} ({'créé' if created else 'nouveau lien'}).")
    click.echo(f"Lien de choix du mot de passe (usage unique, valable {hours} h) :")
    click.echo(link)
