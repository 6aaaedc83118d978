"""What integrators use to test a connector: the conformance kit and the sandbox framework.

Packages: ``conformance`` (contract test classes a connector opts into) and ``sandbox``
(a simulator of an editor's API on loopback, the base of every ``sandbox.py``).

Public API for integrators. May import: the contract, ``portal.kit``, ``portal.fhir``
and ``portal.plugins``. No database, no Flask, no domain package.
"""
