"""Security headers, request ids and error pages.

Every response carries a strict Content-Security-Policy (no inline script or
style: htmx's indicator style is switched off by a meta tag in ``base.html``
and its CSS ships in ``portal.css``), anti-framing, referrer and MIME-sniffing
headers, and the request id (``X-Request-Id``) that error pages show and logs
carry. Error pages are in French, never show a stack trace, and answer HTMX
requests with a small notice the page can insert instead of a whole document.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed
from werkzeug.wrappers import Response

from portal import audit
from portal.web import session as auth_session

__all__ = ["content_security_policy", "init_app"]

REQUEST_ID_HEADER = "X-Request-Id"

#: Where an HTMX error notice goes: the top of ``<main id="contenu">`` of base.html.
HTMX_ERROR_TARGET = "#contenu"
HTMX_ERROR_SWAP = "afterbegin"

#: Features no page of the portal uses (only names Chromium knows: an unknown
#: one is reported on the console).
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"

#: French titles of the statuses without a template of their own.
TITLES = {
    400: "Requête invalide",
    401: "Connexion requise",
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Méthode non autorisée",
    408: "Délai dépassé",
    413: "Requête trop volumineuse",
    429: "Trop de requêtes",
    500: "Erreur interne",
    502: "Service indisponible",
    503: "Service indisponible",
    504: "Délai dépassé",
}
PAGES = {code: f"errors/{code}.html" for code in (400, 403, 404, 500)}

_FALLBACK_500 = (
    '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
    "<title>Erreur interne · Portail SAS</title></head><body><h1>Erreur interne</h1>"
    "<p>Une erreur inattendue s'est produite. Réessayez dans un instant.</p>"
    "<p>Référence de l'incident : <code>{rid}</code></p></body></html>"
)


def _origin(url: str) -> str | None:
    """``scheme://host[:port]`` of ``url``; a ``{s}`` tile-server label becomes ``*``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("{s}."):
        host = "*." + host[4:]
    if "{" in host or "}" in host:
        return None  # a placeholder elsewhere cannot be expressed as a CSP source
    return f"{parts.scheme}://{host}"


def content_security_policy(config: Mapping[str, Any]) -> str:
    """The CSP header value for this configuration.

    Map tiles (``MAP_TILE_URL``) add their origin to ``img-src``. When Pro Santé
    Connect is configured its origin joins ``form-action``: Chromium checks
    form-action on the redirects that follow a form POST, and the logout form's
    POST redirects to the PSC end-session endpoint.
    """
    img = ["'self'", "data:"]
    tiles = _origin(str(config.get("MAP_TILE_URL") or ""))
    if tiles:
        img.append(tiles)
    form_action = ["'self'"]
    psc = _origin(str(config.get("PSC_ISSUER") or ""))
    if psc:
        form_action.append(psc)
    directives = [
        ("default-src", ["'self'"]),
        ("script-src", ["'self'"]),
        ("style-src", ["'self'"]),
        ("img-src", img),
        ("connect-src", ["'self'"]),
        ("font-src", ["'self'"]),
        ("object-src", ["'none'"]),
        ("base-uri", ["'none'"]),
        ("form-action", form_action),
        ("frame-ancestors", ["'none'"]),
    ]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives)


# --- request id -------------------------------------------------------------------


def _assign_request_id() -> None:
    g.request_id = uuid.uuid4().hex[:12]
    g.origin_token = audit.REQUEST_ORIGIN.set((request.remote_addr, g.request_id))


def _forget_request_origin(_exc: BaseException | None = None) -> None:
    token = g.pop("origin_token", None)
    if token is not None:
        try:
            audit.REQUEST_ORIGIN.reset(token)
        except ValueError:  # torn down in another context (streamed responses)
            audit.REQUEST_ORIGIN.set(None)


def request_id() -> str | None:
    """The current request's id (None outside a request)."""
    return g.get("request_id") if has_request_context() else None


class RequestIdFilter(logging.Filter):
    """Prefix the app logger's records with ``[request id]`` inside a request.

    Flask's own "Exception on …" record (with the traceback of a 500) goes
    through the app logger too, so it carries the id the error page shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id()
        record.__dict__["request_id"] = rid  # also usable as %(request_id)s in a formatter
        if rid:
            record.msg = f"[{rid}] {record.msg}"
        return True


_LOG_FILTER = RequestIdFilter()


# --- headers ----------------------------------------------------------------------


def _set_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(current_app.config))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    rid = g.get("request_id")
    if rid:
        headers[REQUEST_ID_HEADER] = rid
    if request.endpoint != "static":
        # Pages hold personal data or a CSRF token: never cached, not even in history.
        headers["Cache-Control"] = "no-store"
    return response


# --- error pages ------------------------------------------------------------------


def _is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _render_error(code: int, *, csrf: bool = False) -> Response:
    rid = g.get("request_id") or "—"
    title = TITLES.get(code, "Erreur")
    if _is_htmx():
        body = render_template(
            "errors/_fragment.html", code=code, title=title, request_id=rid, csrf=csrf
        )
        response = Response(body, status=code, mimetype="text/html")
        # htmx swaps no 4xx/5xx by default, and never into the element's own target
        # here: the notice is retargeted to the top of the page, and a
        # htmx:beforeSwap handler (portal.js) lets a retargeted error response swap.
        response.headers["HX-Retarget"] = HTMX_ERROR_TARGET
        response.headers["HX-Reswap"] = HTMX_ERROR_SWAP
    else:
        template = PAGES.get(code, "errors/_error.html")
        body = render_template(template, code=code, title=title, request_id=rid, csrf=csrf)
        response = Response(body, status=code, mimetype="text/html")
    response.vary.add("HX-Request")
    return response


def _handle_http_error(error: HTTPException) -> Response | HTTPException:
    code = error.code or 500
    if code < 400:
        return error
    if code >= 500:
        return _handle_server_error(error)
    level = logging.INFO if code == 404 else logging.WARNING
    current_app.logger.log(level, "%d %s %s", code, request.method, request.path)
    if "principal" not in g:
        # An unknown URL never reached the permission guard: look the user up so that
        # the page keeps their menu (best effort; the page must render anyway).
        try:
            auth_session.current()
        except Exception:
            current_app.logger.warning("session not readable for the error page", exc_info=True)
    response = _render_error(code, csrf=isinstance(error, CSRFError))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _handle_server_error(error: HTTPException) -> Response:
    code = error.code or 500
    original = getattr(error, "original_exception", None)
    if original is None:
        # An explicit abort(5xx): Flask logged nothing yet.
        current_app.logger.error("%d %s %s", code, request.method, request.path)
    # else: Flask has just logged the exception and its traceback through the
    # app logger, prefixed with the request id by RequestIdFilter.
    try:
        return _render_error(code)
    except Exception:
        # The error page must not fail in turn (database down, broken template…).
        current_app.logger.exception("error page %d could not be rendered", code)
        rid = g.get("request_id") or "—"
        return Response(_FALLBACK_500.format(rid=rid), status=code, mimetype="text/html")


def init_app(app: Flask) -> None:
    """Request ids, security headers and French error pages for ``app``."""
    # First of all before_request functions, so that a refusal by the permission
    # guard already has its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _assign_request_id)
    app.teardown_request(_forget_request_origin)
    app.after_request(_set_headers)
    app.register_error_handler(HTTPException, _handle_http_error)
    app.register_error_handler(InternalServerError, _handle_server_error)
    app.logger.addFilter(_LOG_FILTER)
