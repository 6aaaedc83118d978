"""The regulator's search: place, candidates, filters, ranking, cards, live refresh, LRM.

Modules: ``service`` (one search, first paint from the cache), ``place`` (where the
patient is), ``geocoding`` (optional street-level geocoder), ``candidates`` (who is
near), ``filters`` (slot facts and filters), ``ranking``, ``cards`` (what a result card
shows), ``live`` (the live refresh of the visible cards), ``lrm`` and ``lrm_origins``
(INT_L01 links and their allow-list).

May import: the contract, ``portal.models``, ``portal.audit``, ``portal.plugins``,
``portal.reference`` and the domain packages to its left (directory, identity, slots,
agenda). Never Flask, views, commands, jobs or devtools; it renders no HTML.
"""
