"""Blueprints, one per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    import portal.views.auth_local
    import portal.views.auth_psc  # noqa: F401  (Pro Santé Connect routes on auth.bp)
    from portal.views import accounts, admin, audit, auth, health, participation, search, structures

    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(accounts.bp)
    app.register_blueprint(structures.bp)
    app.register_blueprint(participation.bp)
    from portal.views import lrm_origins

    app.register_blueprint(lrm_origins.bp)
    from portal.views import bindings

    app.register_blueprint(bindings.bp)
    from portal.views import booking

    app.register_blueprint(booking.bp)
