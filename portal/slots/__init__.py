"""Slots from every source: aggregation, the cache, source health, calendars.

Modules: ``aggregation`` (batched, concurrent calls to the connectors under their
deadlines, circuit breaker, kill switch), ``cache`` (the cached normalised slots, their
summaries and fetch times, written as upserts), ``flight`` (single flight of fetches
across workers and the freshness threshold), ``background`` (a refresh under a web
request's time budget), ``health`` (what the administrators see of each source),
``calendar`` (slots as local days for display).

May import: the contract, ``portal.models``, ``portal.audit``, ``portal.plugins``,
``portal.reference``, ``portal.directory`` and ``portal.identity``. Never Flask,
views, commands, jobs or devtools.
"""
