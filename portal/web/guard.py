"""The permission guard: every request is checked against the permission table."""

from __future__ import annotations

from flask import Flask, Response, abort, current_app, g, redirect, request, url_for

from portal.permissions import PUBLIC, can, endpoint_action, menu_for
from portal.web import session as auth_session


def check_request() -> Response | None:
    endpoint = request.endpoint
    if endpoint is None:
        return None  # 404/405: let Flask answer
    action = endpoint_action(endpoint)
    if action is None:
        current_app.logger.error("endpoint %s missing from the permission table", endpoint)
        abort(403)
    if action == PUBLIC:
        return None
    principal = auth_session.current()
    if principal is None:
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
        if g.get("session_expired"):
            target = url_for("auth.login", next=request.full_path.rstrip("?"), expiree=1)
        if request.headers.get("HX-Request"):
            # an HTMX fragment cannot show a login page: send the whole page there
            response = Response(status=401)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target)  # type: ignore[return-value]
    if not can(principal, action):
        abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(check_request)

    @app.context_processor
    def inject_user() -> dict[str, object]:
        principal = g.get("principal")
        endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
        return {"principal": principal, "menu": menu_for(principal, endpoints)}
