"""The care offer: national directory import, structures, territories, participation.

Modules: ``importer`` (the national directory file) with ``columns`` (aliases,
header, field limits), ``activities`` (one line parsed) and ``report`` (counts and
line messages); ``structures`` (structure managers' view), ``territories`` (SAS-xx
territories and their departments), ``participation`` (a practitioner's SAS settings).

May import: the contract, ``portal.models``, ``portal.audit``, ``portal.permissions``
and ``portal.reference``. It is the leftmost domain package: no other domain package.
Never Flask, views, commands, jobs or devtools.
"""
