"""Identity: accounts, local login, Pro Santé Connect, regulator provisioning.

Modules: ``accounts`` (account management within territories), ``passwords``
(policy, hashing, first login factor), ``second_factor`` (TOTP), ``reset_links``
(set-password links), ``throttle`` (failed-attempt counters shared by workers),
``psc`` (the Pro Santé Connect OpenID Connect client), ``qr`` (enrolment QR code),
``provisioning`` (INT_R02 pushes to editors). The Flask side of a login (cookie
session, guard, PSC round trip) lives in ``portal.web``.

May import: the contract, ``portal.models``, ``portal.audit``, ``portal.permissions``,
``portal.plugins``, ``portal.reference`` and ``portal.directory``. Never Flask, views,
commands, jobs or devtools.
"""
