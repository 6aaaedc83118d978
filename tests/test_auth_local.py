"""Local accounts: password + mandatory TOTP, throttling, reset links, ``create-admin``.

Through the Flask test client on a real database (SQLite and PostgreSQL); TOTP
codes are computed with pyotp like an authenticator app would.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from markupsafe import escape
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal import db
from portal.identity import passwords, reset_links, second_factor, throttle
from portal.identity.qr import qr_svg
from portal.models import AuditEvent, LoginThrottle, PasswordResetToken, User, utcnow
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_user

PASSWORD = "cheval agrafe batterie correcte"
BAD = "Identifiants incorrects."
BLOCKED = "Trop de tentatives : réessayez dans quelques minutes."


# ---------------------------------------------------------------- helpers


def _user(app: Flask, *roles: Any, enrolled: bool = True, **fields: Any) -> tuple[int, str, str]:
    """A local user with PASSWORD; returns (id, email, TOTP secret)."""
    with app.app_context():
        session = db.session()
        fields.setdefault("password_hash", passwords.hash_password(PASSWORD))
        user = add_user(session, *roles, **fields)
        secret = pyotp.random_base32()
        if enrolled:
            user.totp_secret = secret
            user.totp_enrolled_at = utcnow() - timedelta(days=1)
        session.commit()
        assert user.email is not None
        return user.id, user.email, secret


def _get_user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        return user


def _events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(db.session().scalars(query))


def _password(
    client: FlaskClient,
    email: str,
    password: str = PASSWORD,
    *,
    next_url: str | None = None,
    ip: str = "192.0.2.1",
) -> TestResponse:
    data = {"email": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/connexion/locale", data=data, environ_base={"REMOTE_ADDR": ip})


def _code(client: FlaskClient, code: str, *, enrol: bool = False) -> TestResponse:
    path = "/connexion/totp/enrolement" if enrol else "/connexion/totp"
    return client.post(path, data={"code": code}, environ_base={"REMOTE_ADDR": "192.0.2.1"})


def _logged_in(client: FlaskClient) -> int | None:
    with client.session_transaction() as sess:
        return sess.get("uid")


def _text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def _wrong_code(secret: str) -> str:
    """A code that matches none of the steps a test may run in."""
    totp, now = pyotp.TOTP(secret), time.time()
    valid = {totp.at(now + 30 * k) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _shows(response: TestResponse, message: str) -> bool:
    return str(escape(message)) in _text(response)


# ---------------------------------------------------------------- passwords


def test_password_policy_messages_in_french() -> None:
    assert passwords.password_problems("court", "a@b.fr") == [
        "Le mot de passe doit contenir au moins 12 caractères."
    ]
    assert passwords.password_problems("Jeanne.Martin@Exemple.fr", "jeanne.martin@exemple.fr") == [
        "Le mot de passe ne doit pas être votre adresse e-mail."
    ]
    assert passwords.password_problems(PASSWORD, "a@b.fr", "autre chose encore") == [
        "Les deux saisies du mot de passe ne sont pas identiques."
    ]
    assert passwords.password_problems(PASSWORD, "a@b.fr", PASSWORD) == []
    assert passwords.password_problems("x" * 300, None)  # absurdly long refused too


def test_hashes_are_argon2id_and_never_the_password() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and first != second  # salted
    assert PASSWORD not in first
    parameters = PasswordHasher().memory_cost
    assert f"m={parameters}," in first


def test_qr_code_is_inline_svg_without_script_or_style() -> None:
    svg = str(qr_svg("otpauth://totp/Portail:a@b.fr?secret=ABC", label="Code QR"))
    assert svg.startswith("<svg ") and 'role="img"' in svg and 'aria-label="Code QR"' in svg
    assert "viewBox" in svg
    assert "<script" not in svg and "style=" not in svg and "data:" not in svg


# ---------------------------------------------------------------- full login flows


def test_first_login_enrols_totp_then_logs_in(app: Flask, client: FlaskClient) -> None:
    user_id, email, _ = _user(app, "administrateur", enrolled=False)
    page = _text(client.get("/connexion"))
    assert 'action="/connexion/locale"' in page
    assert 'autocomplete="username"' in page and 'autocomplete="current-password"' in page
    assert 'name="csrf_token"' in page

    response = _password(client, email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/connexion/totp/enrolement"
    assert _logged_in(client) is None  # the first factor alone is not a login
    # the TOTP page sends a non-enrolled user to enrolment
    assert client.get("/connexion/totp").headers["Location"] == "/connexion/totp/enrolement"

    page = _text(client.get("/connexion/totp/enrolement"))
    secret = _get_user(app, user_id).totp_secret
    assert secret is not None
    assert "<svg " in page and 'role="img"' in page and "<script>" not in page
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in page
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page
    assert 'name="csrf_token"' in page
    # a reload shows the same secret (the app may already have scanned it)
    client.get("/connexion/totp/enrolement")
    assert _get_user(app, user_id).totp_secret == secret

    wrong = _code(client, _wrong_code(secret), enrol=True)
    assert wrong.status_code == 200 and _shows(wrong, passwords.MSG_BAD_CODE)
    assert _get_user(app, user_id).totp_enrolled_at is None

    done = _code(client, pyotp.TOTP(secret).now(), enrol=True)
    assert done.status_code == 303
    assert done.headers["Location"] == "/structures"  # the administrator's home
    assert _logged_in(client) == user_id
    user = _get_user(app, user_id)
    assert user.totp_enrolled_at is not None and user.last_login_at is not None
    login = _events(app, "login")
    assert len(login) == 1 and login[0].actor == str(user_id)
    assert login[0].details == {"method": "local"}
    assert [e.action for e in _events(app)][-2:] == ["totp_enrolled", "login"]


def test_second_login_asks_totp_and_returns_to_next(app: Flask, client: FlaskClient) -> None:
    user_id, email, secret = _user(app, "administrateur")
    next_url = "/admin/connecteurs?source=cpts&x=1"
    page = _text(client.get("/connexion", query_string={"next": next_url}))
    assert 'name="next" value="/admin/connecteurs?source=cpts&amp;x=1"' in page

    response = _password(client, email, next_url=next_url)
    assert response.headers["Location"] == "/connexion/totp"
    page = _text(client.get("/connexion/totp"))
    assert 'autocomplete="one-time-code"' in page and 'inputmode="numeric"' in page

    done = _code(client, pyotp.TOTP(secret).now())
    assert done.status_code == 303 and done.headers["Location"] == next_url
    assert _logged_in(client) == user_id
    with client.session_transaction() as sess:
        assert "local_pending" not in sess and sess["auth_method"] == "local"


def test_next_preserved_through_enrolment_and_open_redirects_refused(
    app: Flask, client: FlaskClient
) -> None:
    _, email, _ = _user(app, "administrateur", enrolled=False)
    _password(client, email, next_url="/admin/audit?action=login&page=2")
    client.get("/connexion/totp/enrolement")
    with client.session_transaction() as sess:
        secret = _get_user(app, sess["local_pending"]["uid"]).totp_secret
    assert secret
    done = _code(client, pyotp.TOTP(secret).now(), enrol=True)
    assert done.headers["Location"] == "/admin/audit?action=login&page=2"

    other = FlaskClient(app, app.response_class, use_cookies=True)
    _, email2, secret2 = _user(app, "administrateur")
    _password(other, email2, next_url="//evil.example/phish")
    assert _code(other, pyotp.TOTP(secret2).now()).headers["Location"] == "/structures"


def test_totp_code_reuse_refused(app: Flask) -> None:
    user_id, email, secret = _user(app, "administrateur")
    totp = pyotp.TOTP(secret)
    code = totp.now()
    first = app.test_client()
    _password(first, email)
    assert _code(first, code).status_code == 303

    second = app.test_client()
    _password(second, email)
    again = _code(second, code)
    assert again.status_code == 200 and _shows(again, passwords.MSG_BAD_CODE)
    assert _logged_in(second) is None
    # an older code is refused too once a newer one was used
    assert _code(second, totp.at(time.time() - 30)).status_code == 200
    assert _logged_in(second) is None
    # the next code (±1 step accepted) works
    assert _code(second, totp.at(time.time() + 30)).status_code == 303
    assert _logged_in(second) == user_id
    reasons = [e.details["reason"] for e in _events(app, "login_failed")]
    assert "reused_code" in reasons


def test_first_factor_expires_after_five_minutes(app: Flask, client: FlaskClient) -> None:
    _, email, secret = _user(app, "administrateur")
    _password(client, email, next_url="/admin/connecteurs")
    with client.session_transaction() as sess:
        pending = dict(sess["local_pending"])
        pending["at"] = time.time() - passwords.FIRST_FACTOR_VALIDITY_S - 1
        sess["local_pending"] = pending
    response = _code(client, pyotp.TOTP(secret).now())
    assert response.status_code == 303
    assert response.headers["Location"] == "/connexion?next=/admin/connecteurs"
    assert _logged_in(client) is None
    assert "Votre connexion a expiré" in _text(client.get(response.headers["Location"]))


def test_totp_pages_need_the_first_factor(client: FlaskClient) -> None:
    for path in ("/connexion/totp", "/connexion/totp/enrolement"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"] == "/connexion"


def test_password_rehashed_when_parameters_change(app: Flask, client: FlaskClient) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    user_id, email, _ = _user(app, "administrateur")
    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        user.password_hash = weak.hash(PASSWORD)
        db.session().commit()
    assert _password(client, email).status_code == 303
    stored = _get_user(app, user_id).password_hash
    assert stored is not None and stored.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(stored)


def test_forms_carry_the_csrf_token(database_url: str, tmp_path: Path) -> None:
    app = make_test_app(database_url, tmp_path / "instance", WTF_CSRF_ENABLED=True)
    try:
        _, email, secret = _user(app, "administrateur")
        client = app.test_client()
        assert _password(client, email).status_code == 400  # no token: refused
        page = _text(client.get("/connexion"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        response = client.post(
            "/connexion/locale",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
        )
        assert response.headers["Location"] == "/connexion/totp"
        page = _text(client.get("/connexion/totp"))
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        code = pyotp.TOTP(secret).now()
        response = client.post("/connexion/totp", data={"code": code, "csrf_token": token.group(1)})
        assert response.status_code == 303 and _logged_in(client) is not None
    finally:
        dispose_engine(app)


# ---------------------------------------------------------------- failures


def test_wrong_password_unknown_email_inactive_all_look_the_same(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, email, _ = _user(app, "administrateur")
    _, inactive, _ = _user(app, "administrateur", active=False)
    _, psc_user, _ = _user(app, "administrateur", password_hash=None)
    verifications: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            verifications.append("verify")
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", CountingHasher())
    bodies = []
    for i, (login, password) in enumerate(
        [
            (email, "pas le bon mot de passe"),
            ("inconnu@example.test", PASSWORD),
            (inactive, PASSWORD),
            (psc_user, PASSWORD),
        ]
    ):
        response = _password(client, login, password, ip=f"198.51.100.{i}")
        assert response.status_code == 200
        body = _text(response)
        assert BAD in body and 'role="alert"' in body
        # the CSRF token carries a timestamp: everything else must be identical
        body = re.sub(r'(csrf_token" value="|"X-CSRFToken": ")[^"]+', r"\1…", body)
        bodies.append(body.replace(login, "EMAIL"))
        assert _logged_in(client) is None
    assert len(set(bodies)) == 1  # not a byte of difference
    assert len(verifications) == 4  # one argon2 verification each: same work, same timing
    with client.session_transaction() as sess:
        assert "local_pending" not in sess

    failed = _events(app, "login_failed")
    assert [e.details["reason"] for e in failed] == [
        "wrong_password",
        "unknown_account",
        "inactive",
        "no_local_password",
    ]
    assert failed[1].actor is None and failed[1].target == "inconnu@example.test"
    for event in failed:
        assert PASSWORD not in repr(event.details) and PASSWORD not in (event.target or "")
        assert "pas le bon" not in repr(event.details)


def test_password_typed_as_email_is_not_kept(app: Flask, client: FlaskClient) -> None:
    _password(client, PASSWORD, PASSWORD)
    [event] = _events(app, "login_failed")
    assert event.target is None and PASSWORD not in repr(event.details)
    with app.app_context():
        keys = list(db.session().scalars(select(LoginThrottle.key)))
    assert keys and all(PASSWORD not in key for key in keys)


def test_regulator_refused_locally_unless_allowed(app: Flask) -> None:
    _, regulator, _ = _user(app, ("regulateur", {"territory_code": None}))
    _, ioa, _ = _user(app, "ioa")
    _, allowed, _ = _user(app, "regulateur", allow_local_regulator=True)
    client = app.test_client()
    for email in (regulator, ioa):
        response = _password(client, email)
        assert response.status_code == 200
        assert "se connectent avec Pro Santé Connect" in _text(response)
        assert _logged_in(client) is None
        # a wrong password does not reveal the role
        assert BAD in _text(_password(client, email, "mauvais mot de passe"))
    assert [e.details["reason"] for e in _events(app, "login_failed")][:1] == ["psc_only"]

    response = _password(client, allowed)
    assert response.status_code == 303 and response.headers["Location"] == "/connexion/totp"


# ---------------------------------------------------------------- throttling


def test_throttle_by_account(app: Flask, client: FlaskClient) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    _, email, _ = _user(app, "administrateur")
    for i in range(limit):
        response = _password(client, email, "mauvais mot de passe", ip=f"203.0.113.{i}")
        assert BAD in _text(response)
    blocked = _password(client, email, ip="203.0.113.200")  # right password, fresh address
    assert blocked.status_code == 429 and BLOCKED in _text(blocked)
    assert _logged_in(client) is None
    # an unknown address is blocked the same way: nothing tells it apart
    for i in range(limit):
        _password(client, "personne@example.test", "x" * 12, ip=f"203.0.113.{50 + i}")
    blocked = _password(client, "personne@example.test", ip="203.0.113.201")
    assert blocked.status_code == 429 and BLOCKED in _text(blocked)
    assert "blocked" in [e.details["reason"] for e in _events(app, "login_failed")]


def test_throttle_by_ip(app: Flask, client: FlaskClient) -> None:
    limit = app.config["LOGIN_MAX_FAILURES_PER_IP"]
    _, email, _ = _user(app, "administrateur")
    for i in range(limit):
        _password(client, f"essai{i}@example.test", "mauvais mot de passe", ip="198.51.100.7")
    blocked = _password(client, email, ip="198.51.100.7")
    assert blocked.status_code == 429 and BLOCKED in _text(blocked)
    elsewhere = _password(client, email, ip="198.51.100.8")
    assert elsewhere.status_code == 303  # the account itself is not blocked


def test_totp_failures_count_towards_the_block(app: Flask, client: FlaskClient) -> None:
    limit = app.config["LOGIN_MAX_FAILURES"]
    _, email, secret = _user(app, "administrateur")
    good, wrong = pyotp.TOTP(secret).now(), _wrong_code(secret)
    _password(client, email)
    for _ in range(limit):
        assert _shows(_code(client, wrong), passwords.MSG_BAD_CODE)
    response = _code(client, good)
    assert response.status_code == 303 and response.headers["Location"] == "/connexion"
    assert BLOCKED in _text(client.get("/connexion"))
    assert _logged_in(client) is None
    with client.session_transaction() as sess:
        assert "local_pending" not in sess
    assert _password(client, email, ip="192.0.2.99").status_code == 429


def test_block_lifts_after_block_period(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        policy = throttle.ThrottlePolicy.from_config(app.config)
        user = add_user(session, "administrateur", password_hash=passwords.hash_password(PASSWORD))
        assert user.email
        t0 = utcnow()
        for i in range(policy.max_failures):
            result = passwords.authenticate(
                session, user.email, "mauvais", policy=policy, ip="192.0.2.5",
                now=t0 + timedelta(seconds=i),
            )  # fmt: skip
            assert result.reason == "wrong_password"
        session.commit()
        later = t0 + timedelta(seconds=policy.max_failures)
        result = passwords.authenticate(session, user.email, PASSWORD, policy=policy, now=later)
        assert result.reason == "blocked" and result.message == BLOCKED
        lifted = t0 + timedelta(seconds=policy.max_failures + policy.block_s)
        result = passwords.authenticate(session, user.email, PASSWORD, policy=policy, now=lifted)
        assert result.ok and result.user is not None and result.user.id == user.id
        # the address is free again as well
        assert not passwords.is_blocked(session, "autre@example.test", "192.0.2.5", now=lifted)


def test_failures_outside_the_window_do_not_add_up(app: Flask) -> None:
    with app.app_context():
        session = db.session()
        policy = throttle.ThrottlePolicy.from_config(app.config)
        t0 = utcnow()
        for _ in range(policy.max_failures - 1):
            passwords.register_failure(session, "a@example.test", None, policy, now=t0)
        after_window = t0 + timedelta(seconds=policy.window_s + 1)
        passwords.register_failure(session, "a@example.test", None, policy, now=after_window)
        assert not passwords.is_blocked(session, "a@example.test", None, now=after_window)
        assert passwords.purge_throttles(session, policy, now=after_window) == 0
        later = after_window + timedelta(seconds=policy.window_s + 1)
        assert passwords.purge_throttles(session, policy, now=later) == 1
        session.commit()


# ---------------------------------------------------------------- reset links


def _issue(app: Flask, user_id: int, **kwargs: Any) -> str:
    with app.app_context():
        session = db.session()
        user = session.get(User, user_id)
        assert user is not None
        raw = reset_links.issue_reset_link(session, user, None, **kwargs)
        session.commit()
        return raw


def test_reset_link_sets_password_once(app: Flask, client: FlaskClient) -> None:
    user_id, email, secret = _user(app, "administrateur")
    older = _issue(app, user_id)
    raw = _issue(app, user_id)  # a new link replaces the previous one
    with app.app_context():
        stored = list(db.session().scalars(select(PasswordResetToken.token_hash)))
    assert raw not in stored and len(stored) == 2 and all(len(h) == 64 for h in stored)
    assert client.get(f"/mot-de-passe/{older}").status_code == 404

    page = _text(client.get(f"/mot-de-passe/{raw}"))
    assert email in page and 'autocomplete="new-password"' in page
    assert 'autocomplete="username"' in page and 'name="csrf_token"' in page

    url = f"/mot-de-passe/{raw}"
    short = client.post(url, data={"password": "court", "confirm": "court"})
    assert short.status_code == 200 and "au moins 12 caractères" in _text(short)
    mismatch = client.post(url, data={"password": PASSWORD + "!", "confirm": PASSWORD})
    assert "ne sont pas identiques" in _text(mismatch)
    as_email = client.post(url, data={"password": email.upper(), "confirm": email.upper()})
    assert "adresse e-mail" in _text(as_email)

    new_password = "une toute nouvelle phrase de passe"
    done = client.post(url, data={"password": new_password, "confirm": new_password})
    assert done.status_code == 303 and done.headers["Location"] == "/connexion"
    assert "Mot de passe enregistré" in _text(client.get("/connexion"))
    user = _get_user(app, user_id)
    assert user.password_hash and user.password_hash.startswith("$argon2id$")
    assert new_password not in user.password_hash and user.password_changed_at is not None
    assert user.totp_secret == secret and user.totp_enrolled_at is not None  # TOTP kept
    [event] = _events(app, "password_set")
    assert event.actor == str(user_id) and new_password not in repr(event.details)

    again = client.get(url)
    assert again.status_code == 404 and _shows(again, reset_links.MSG_RESET_INVALID)
    reuse = client.post(url, data={"password": "encore un autre secret", "confirm": "x"})
    assert reuse.status_code == 404
    # the new password works, the old one does not
    assert _password(client, email, PASSWORD).status_code == 200
    assert _password(client, email, new_password).status_code == 303


def test_reset_link_expires_after_72_hours(app: Flask, client: FlaskClient) -> None:
    user_id, _, _ = _user(app, "administrateur")
    validity = timedelta(seconds=app.config["PASSWORD_RESET_VALIDITY_S"])
    assert validity == timedelta(hours=72)
    expired = _issue(app, user_id, now=utcnow() - validity - timedelta(seconds=1))
    response = client.get(f"/mot-de-passe/{expired}")
    assert response.status_code == 404 and _shows(response, reset_links.MSG_RESET_INVALID)
    post = client.post(f"/mot-de-passe/{expired}", data={"password": PASSWORD, "confirm": PASSWORD})
    assert post.status_code == 404
    almost = _issue(app, user_id, now=utcnow() - validity + timedelta(minutes=5))
    assert client.get(f"/mot-de-passe/{almost}").status_code == 200


def test_unknown_or_deactivated_reset_link(app: Flask, client: FlaskClient) -> None:
    response = client.get("/mot-de-passe/nimporte-quoi")
    assert response.status_code == 404 and _shows(response, reset_links.MSG_RESET_INVALID)
    user_id, _, _ = _user(app, "administrateur", active=False)
    assert client.get(f"/mot-de-passe/{_issue(app, user_id)}").status_code == 404


def test_reset_totp_enrols_again_at_next_login(app: Flask, client: FlaskClient) -> None:
    user_id, email, _ = _user(app, "administrateur")
    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None
        second_factor.reset_totp(user)
        db.session().commit()
    assert _password(client, email).headers["Location"] == "/connexion/totp/enrolement"


# ---------------------------------------------------------------- create-admin


def test_create_admin_command(app: Flask, runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = runner.invoke(args=["accounts", "create-admin", "Premiere.Admin@Example.fr"])
    assert result.exit_code == 0, result.output
    link = re.search(r"http://localhost:5000(/mot-de-passe/\S+)", result.output)
    assert link is not None and "72 h" in result.output
    with app.app_context():
        user = passwords.find_user_by_email(db.session(), "premiere.admin@example.fr")
        assert user is not None and user.email == "premiere.admin@example.fr"
        assert [r.role for r in user.roles] == ["administrateur"]
        assert user.roles[0].territory_code is None and user.password_hash is None
    assert client.get(link.group(1)).status_code == 200

    again = runner.invoke(args=["accounts", "create-admin", "premiere.admin@example.fr"])
    assert again.exit_code != 0 and "existe déjà" in again.output
    reissued = runner.invoke(
        args=[
            "accounts", "create-admin", "premiere.admin@example.fr", "--nouveau-lien",
            "--base-url", "https://sas.example.fr/",
        ]
    )  # fmt: skip
    assert reissued.exit_code == 0, reissued.output
    new_link = re.search(r"https://sas\.example\.fr(/mot-de-passe/\S+)", reissued.output)
    assert new_link is not None
    assert client.get(link.group(1)).status_code == 404  # the first link no longer works
    new_password = "la phrase de passe du premier admin"
    done = client.post(new_link.group(1), data={"password": new_password, "confirm": new_password})
    assert done.status_code == 303
    assert urlsplit(done.headers["Location"]).path == "/connexion"
    bad = runner.invoke(args=["accounts", "create-admin", "pas-une-adresse"])
    assert bad.exit_code != 0
