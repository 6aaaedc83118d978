"""Every national identifier system and id prefix, once.

Part of the contract: imported by connectors, the FHIR reader and validator, the
sandboxes and the portal alike; it imports nothing.

Sources: the SAS FHIR guide (``ansforge/IG-fhir-service-acces-aux-soins``) and the
ANS identifier conventions summarised in ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Final

#: Identifiant national de personne physique (IDNPS): ``8`` + RPPS, ``0`` + ADELI.
IDNPS_SYSTEM: Final = "urn:oid:1.2.250.1.71.4.2.1"
#: Identifiant national de structure (IDNST): ``1`` + FINESS, ``3`` + SIRET, …
IDNST_SYSTEM: Final = "urn:oid:1.2.250.1.71.4.2.2"
#: The SAS platform: ``meta.source`` of what it sends and the system of the technical
#: ids of regulators without a national id (INT_R02).
SAS_SYSTEM: Final = "urn:oid:1.2.250.1.213.3.6"

#: Prefixes of national ids (the first character says which register the rest is from).
RPPS_PREFIX: Final = "8"
ADELI_PREFIX: Final = "0"
FINESS_PREFIX: Final = "1"
SIRET_PREFIX: Final = "3"
