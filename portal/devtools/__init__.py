"""The project's own tooling: never imported by the web application.

Modules: ``pgcluster`` (throwaway PostgreSQL cluster), ``oidc`` (a real local OpenID
Connect provider standing in for Pro Santé Connect), ``browser`` (Chromium settings and
a live server for Playwright), ``demo`` / ``demo_identities`` / ``demo_directory`` /
``synthetic_directory`` (the data and services of ``make demo``), ``bench`` (the
``sas-portal bench`` measurements).

Imported lazily by ``portal.commands`` (inside the command functions) and by the tests;
a contract in ``pyproject.toml`` keeps every other package away from it.
"""
