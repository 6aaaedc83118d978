"""The Flask glue that is not a view: guard, login session, security, plugin manager.

Modules: ``guard`` (the permission table enforced before every request), ``session``
(the login session), ``psc`` (the Pro Santé Connect round trip, state kept in the
session), ``security`` (headers, CSP, request ids, error pages), ``gcpause`` (garbage
collection between requests), ``plugins`` (the application's plugin manager).

May import: anything but ``portal.devtools`` and ``portal.views``.
"""
