"""WSGI entry point for production servers, e.g. ``gunicorn --preload 'portal.wsgi:app'``.

The application is built from the instance folder and the ``SAS_PORTAL_*``
environment (see README), then warmed up (:func:`portal.app.warm_up`).
"""

from __future__ import annotations

from portal.app import create_app, warm_up

app = create_app()
warm_up(app)
