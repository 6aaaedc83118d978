"""Security headers and CSP, session cookie, CSRF, request ids and French error pages."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, abort, redirect, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal import db
from portal.permissions import ENDPOINTS, PUBLIC
from portal.web.security import content_security_policy
from tests.conftest import CSP_RECORDER, dispose_engine, is_csp_or_error, make_test_app
from tests.factories import add_user, login, session_cookie

TEMPLATES = Path(__file__).parents[1] / "portal/templates"

EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": EXPECTED_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
REQUEST_ID = re.compile(r"^[0-9a-f]{12}$")


def assert_security_headers(response: TestResponse) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert REQUEST_ID.match(response.headers["X-Request-Id"])


def assert_no_stack_trace(text: str) -> None:
    for leak in ("Traceback", 'File "', "Werkzeug", "werkzeug", "sqlalchemy", "Exception"):
        assert leak not in text, leak


def client_for(app: Flask, *roles: Any) -> FlaskClient:
    client = app.test_client()
    with app.app_context():
        session = db.session()
        user = add_user(session, *roles)
        session.commit()
        login(client, user)
    return client


# --- the policy itself ------------------------------------------------------------


def test_csp_is_strict_by_default() -> None:
    csp = content_security_policy({})
    assert csp == EXPECTED_CSP
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp


def test_csp_adds_the_tile_server_and_the_psc_origin() -> None:
    csp = content_security_policy(
        {
            "MAP_TILE_URL": "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
            "PSC_ISSUER": "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet",
        }
    )
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["img-src"] == "'self' data: https://*.tile.openstreetmap.org"
    # the logout POST redirects to PSC's end-session endpoint: Chromium checks form-action
    assert directives["form-action"] == "'self' https://auth.bas.psc.esante.gouv.fr"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"


def test_csp_ignores_urls_it_cannot_express() -> None:
    csp = content_security_policy(
        {"MAP_TILE_URL": "https://tiles.{s}.example/{z}.png", "PSC_ISSUER": "not a url"}
    )
    assert csp == EXPECTED_CSP


def test_the_live_csp_follows_the_configuration(app: Flask, client: FlaskClient) -> None:
    app.config["PSC_ISSUER"] = "http://127.0.0.1:9999/realms/demo"
    csp = client.get("/healthz").headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:9999;" in csp


# --- headers on every kind of response ---------------------------------------------


def test_headers_on_a_public_page(client: FlaskClient) -> None:
    response = client.get("/connexion")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"  # it holds a CSRF token


def test_headers_on_a_protected_page(regulator_client: FlaskClient) -> None:
    response = regulator_client.get("/recherche")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_headers_on_an_error_page_and_a_redirect(client: FlaskClient) -> None:
    for response in (client.get("/pas-de-page-ici"), client.get("/recherche")):
        assert response.status_code in (404, 302)
        assert_security_headers(response)


def test_static_files_have_the_headers_but_may_be_cached(client: FlaskClient) -> None:
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_each_response_has_its_own_request_id(client: FlaskClient) -> None:
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5


# --- no inline script or style anywhere ---------------------------------------------

INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\s(on[a-z]+|hx-on[:\-\w]*)\s*=", re.I), "event-handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_needs_unsafe_inline() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_pages_served_carry_no_inline_script(regulator_client: FlaskClient) -> None:
    html = regulator_client.get("/recherche?insee=47001").get_data(as_text=True)
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts and all("src=" in s for s in scripts)
    assert 'includeIndicatorStyles": false' in html  # htmx injects no <style>
    assert not re.search(r"\sstyle\s*=", html)


# --- session cookie ---------------------------------------------------------------


def _session_cookie(response: TestResponse) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[0]


def test_session_cookie_is_secure_httponly_samesite_lax(regulator_client: FlaskClient) -> None:
    # any request of a logged-in user refreshes the session (idle timeout)
    cookie = _session_cookie(regulator_client.get("/recherche"))
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "secure" in attributes and "httponly" in attributes
    assert attributes["samesite"].strip() == "SameSite=Lax"


def test_session_cookie_secure_can_be_turned_off_for_the_demo(
    database_url: str, tmp_path: Path
) -> None:
    app = make_test_app(database_url, tmp_path / "i", SESSION_COOKIE_SECURE=False)
    client = client_for(app, "regulateur")
    cookie = _session_cookie(client.get("/recherche"))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    dispose_engine(app)


# --- CSRF -------------------------------------------------------------------------


@pytest.fixture
def csrf_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_test_app(database_url, tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    yield app
    dispose_engine(app)


def _token(client: FlaskClient) -> str:
    html = client.get("/recherche").get_data(as_text=True)
    match = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", html)
    assert match, "the page carries the CSRF token for HTMX on <body>"
    return match.group(1)


def test_post_without_csrf_token_is_refused_in_french(csrf_app: Flask) -> None:
    client = client_for(csrf_app, "regulateur")
    response = client.post("/deconnexion")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Requête invalide" in text and "Le formulaire a expiré" in text
    assert response.headers["X-Request-Id"] in text
    assert "token is missing" not in text  # Flask-WTF's English reason is not shown
    assert_no_stack_trace(text)
    # still logged in: nothing happened
    assert client.get("/recherche").status_code == 200


def test_htmx_post_without_csrf_token_gets_a_notice(csrf_app: Flask) -> None:
    client = client_for(csrf_app, "regulateur")
    response = client.post("/deconnexion", headers={"HX-Request": "true"})
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "<html" not in text and 'role="alert"' in text and "Le formulaire a expiré" in text
    assert response.headers["HX-Retarget"] == "#contenu"


def test_post_with_csrf_header_is_accepted(csrf_app: Flask) -> None:
    client = client_for(csrf_app, "regulateur")
    token = _token(client)
    response = client.post("/deconnexion", headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/connexion")


def test_post_with_csrf_form_field_is_accepted(csrf_app: Flask) -> None:
    client = client_for(csrf_app, "regulateur")
    response = client.post("/deconnexion", data={"csrf_token": _token(client)})
    assert response.status_code == 302


def test_csrf_token_from_another_session_is_refused(csrf_app: Flask) -> None:
    token = _token(client_for(csrf_app, "regulateur"))
    other = client_for(csrf_app, "regulateur")
    _token(other)  # the other session has its own token
    assert other.post("/deconnexion", headers={"X-CSRFToken": token}).status_code == 400


# --- error pages ------------------------------------------------------------------


def test_404_page_in_french_with_request_id(client: FlaskClient) -> None:
    response = client.get("/nulle-part")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert '<html lang="fr">' in text and "Page introuvable" in text
    assert f'<code class="request-id">{response.headers["X-Request-Id"]}</code>' in text
    assert_no_stack_trace(text)


def test_404_keeps_the_logged_in_users_menu(regulator_client: FlaskClient) -> None:
    response = regulator_client.get("/nulle-part")
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "Se déconnecter" in text and 'href="/recherche"' in text


def test_403_page_for_a_role_without_the_permission(regulator_client: FlaskClient) -> None:
    response = regulator_client.get("/admin/audit")
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "Accès refusé" in text and "droits nécessaires" in text
    assert response.headers["X-Request-Id"] in text
    assert "Se déconnecter" in text  # the user is still shown as logged in


def test_403_to_htmx_is_a_fragment(regulator_client: FlaskClient) -> None:
    response = regulator_client.get("/admin/audit", headers={"HX-Request": "true"})
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "<html" not in text and "Accès refusé" in text
    assert response.headers["X-Request-Id"] in text
    assert response.headers["HX-Retarget"] == "#contenu"
    assert response.headers["HX-Reswap"] == "afterbegin"
    assert "HX-Request" in response.headers["Vary"]


def test_400_page(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENDPOINTS, "essai_400", PUBLIC)
    app.add_url_rule("/essai-400", "essai_400", lambda: abort(400, "détail interne"))
    response = client.get("/essai-400")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Requête invalide" in text and "détail interne" not in text
    assert response.headers["X-Request-Id"] in text


def test_405_is_french_and_keeps_allow(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert response.status_code == 405
    assert "Méthode non autorisée" in response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]


@pytest.fixture
def failing_app(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The app as in production: exceptions become 500 pages instead of propagating."""
    app = make_test_app(database_url, tmp_path / "f", PROPAGATE_EXCEPTIONS=False)

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr("portal.views.search.search", explode)
    yield app
    dispose_engine(app)


def test_500_page_hides_the_exception_and_logs_it_with_the_request_id(
    failing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(failing_app, "regulateur")
    with caplog.at_level(logging.ERROR):
        response = client.get("/recherche?insee=47001")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    rid = response.headers["X-Request-Id"]
    assert "Erreur interne" in text and rid in text
    assert "secret detail" not in text and "RuntimeError" not in text
    assert_no_stack_trace(text)
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == rid]
    assert any(
        r.exc_info and "secret detail" in str(r.exc_info[1]) and rid in r.getMessage()
        for r in logged
    ), [r.getMessage() for r in caplog.records]
    assert_security_headers(response)


def test_500_to_htmx_is_a_fragment(failing_app: Flask) -> None:
    client = client_for(failing_app, "regulateur")
    response = client.get("/recherche?insee=47001", headers={"HX-Request": "true"})
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "<html" not in text and "Erreur interne" in text
    assert response.headers["X-Request-Id"] in text
    assert response.headers["HX-Retarget"] == "#contenu"


def test_4xx_are_logged_with_the_request_id(
    regulator_client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = regulator_client.get("/admin/audit")
    rid = response.headers["X-Request-Id"]
    assert any(f"[{rid}] 403 GET /admin/audit" == r.getMessage() for r in caplog.records), [
        r.getMessage() for r in caplog.records
    ]


# --- in a real browser ---------------------------------------------------------------


@pytest.mark.browser
def test_search_page_raises_no_csp_violation_and_inline_script_is_blocked(
    live_app_csrf: Flask, page: Any
) -> None:
    from playwright.sync_api import expect

    from portal.devtools.browser import LiveServer

    with live_app_csrf.app_context():
        s = db.session()
        user = add_user(s, "regulateur")
        s.commit()
        cookie = session_cookie(live_app_csrf, user)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.add_init_script(CSP_RECORDER)
    with LiveServer(live_app_csrf) as server:
        page.context.add_cookies([{**cookie, "url": server.url}])
        page.goto(server.url + "/recherche")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Rechercher")
        where = page.get_by_role("combobox", name="Commune, code postal ou code INSEE")
        where.click()
        where.press_sequentially("Agen", delay=30)
        expect(page.get_by_role("listbox", name="Communes proposées")).to_be_visible()
        where.press("ArrowDown")
        where.press("Enter")
        page.get_by_role("button", name="Rechercher").click()  # an HTMX request + swap
        expect(page.locator("#resultats .result-card")).to_have_count(2)
        assert "insee=47001" in page.url

        assert page.evaluate("window.__cspViolations") == []
        assert [m for m in console if is_csp_or_error(m)] == []

        # the policy really is enforced: an injected inline script does not run
        page.evaluate(
            """() => {
                const s = document.createElement("script");
                s.textContent = "window.__inlineRan = true;";
                document.body.appendChild(s);
                document.body.setAttribute("style", "background: red");
            }"""
        )
        page.wait_for_function("window.__cspViolations.length >= 2")
        assert page.evaluate("window.__inlineRan === undefined")
        violations = page.evaluate("window.__cspViolations")
        assert any(v.startswith("script-src") for v in violations), violations
        assert any(v.startswith("style-src") for v in violations), violations
        # Chromium's wording ("Refused to …" in older versions, "… violates the following
        # Content Security Policy directive" now): either is caught by is_csp_or_error
        assert any("inline script" in m and is_csp_or_error(m) for m in console), console


def _end_session_endpoint(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stands for the PSC end-session endpoint: another origin than the portal's."""
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return ["<!doctype html><title>Fin de session PSC</title><p>Session PSC terminée</p>".encode()]


@pytest.mark.browser
def test_form_action_lets_the_logout_post_redirect_to_psc_only(
    live_app_csrf: Flask, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chromium applies form-action to the redirect that follows a form POST: the
    logout POST redirecting to PSC's end-session endpoint is blocked unless PSC's
    origin is in form-action, which the configured issuer adds."""
    from portal.app import csrf
    from portal.devtools.browser import LiveServer

    with LiveServer(_end_session_endpoint) as psc:
        monkeypatch.setitem(ENDPOINTS, "essai_sortie", PUBLIC)

        @csrf.exempt
        def essai_sortie() -> Any:
            if request.method == "POST":
                return redirect(psc.url + "/end-session", 303)
            return (
                '<!doctype html><html lang="fr"><title>Sortie</title>'
                '<form method="post" action="/essai-sortie"><button>Se déconnecter</button></form>'
            )

        methods = ["GET", "POST"]
        live_app_csrf.add_url_rule("/essai-sortie", "essai_sortie", essai_sortie, methods=methods)
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text))
        with LiveServer(live_app_csrf) as server:
            page.goto(server.url + "/essai-sortie")
            page.get_by_role("button", name="Se déconnecter").click()
            page.wait_for_timeout(500)
            assert not page.url.startswith(psc.url)  # blocked by form-action 'self'
            assert any("form-action" in m for m in console), console

            live_app_csrf.config["PSC_ISSUER"] = psc.url + "/auth/realms/esante-wallet"
            page.goto(server.url + "/essai-sortie")
            page.get_by_role("button", name="Se déconnecter").click()
            page.wait_for_url(psc.url + "/end-session")
            assert "Session PSC terminée" in page.content()
