"""Booking and orientation (home of the booking issue; empty for now).

What will live here: orientations (who oriented, to whom, when, how — never the
patient), atomic capacity on SAS-agenda ranges, the Appointment endpoint's service
(INT_R03) and the transactional outbox (INT_R02 accounts, Hub Santé messages).

May import: the contract (``portal.domain``, ``portal.errors``, ``portal.identifiers``),
``portal.models``, ``portal.audit``, ``portal.plugins``, ``portal.reference``,
``portal.fhir`` and the domain packages to its left (directory, identity, slots,
agenda, search). Never Flask, views, commands, jobs or devtools.
"""
