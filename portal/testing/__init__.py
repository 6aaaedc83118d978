"""What integrators use to test a connector: the conformance kit and the sandbox framework.

Public API for integrators (documented in ``docs/connectors.md``, "Testing a connector"):

- ``conformance``: contract test classes a connector opts into with one line
  (``FetchContract``, ``ErrorContract``, ``SourceFetchContract`` for bulk
  publishers, the booking and accounts contracts);
- ``sandbox``: simulators of an upstream on loopback —
  :class:`~portal.testing.sandbox.SimulatorServer` for any API (routes of your own,
  fault modes ok/slow/error/timeout/malformed),
  :class:`~portal.testing.sandbox.SandboxServer` and its subclasses for the national
  FHIR flows; the base of every ``sandbox.py``;
- :func:`slot_window`: the search window the portal and the kit use (now to the end
  of the day after tomorrow, Europe/Paris).

May import: the contract, ``portal.kit``, ``portal.fhir`` and ``portal.plugins``. No
database, no Flask, no domain package.
"""

from __future__ import annotations

from portal.domain import slot_window

__all__ = ["slot_window"]
