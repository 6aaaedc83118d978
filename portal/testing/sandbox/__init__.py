"""Editor simulators ("sandbox editors") speaking the national SAS FHIR flows.

A sandbox is a real HTTP server on loopback (werkzeug, one thread per request)
that answers the slot searches of the national guide with deterministic,
plausible agendas, so the demo, the tests and the conformance kit exercise the
same code paths as production. The connector-specific servers live in
``connectors/<name>/sandbox.py``; this package holds what they share:

- :class:`SimulatorServer` (``base``): the protocol-neutral base — lifecycle, fault
  injection, request log, control endpoint — for simulators of any API (a bulk
  publication, a JSON API): subclass it and answer your routes in ``handle``;
- :class:`SandboxServer` (``server``, a :class:`SimulatorServer` speaking FHIR under
  ``/fhir``; ``stop()`` closes the listening socket *and* the kept-alive
  connections, so clients then get "connection refused"), fault injection
  (:class:`Behaviour`, also over ``/_sandbox/behaviour``),
  the request log, ``/fhir/metadata`` (``bundles``), the booking page
  ``/rdv/<slot id>`` (``page``);
- :func:`generate_day` (``agenda``): the seeded agenda of one key (national id,
  site) for one day;
- :func:`parse_search` (``search``): strict parsing of the national search parameters;
- ``resources``: the FHIR JSON building helpers;
- :class:`PractitionerSandbox` (``practitioners``): the individual-PS slot search
  (INT_R01), which the CPTS flow (INT_R04) extends; :class:`PractitionerInfo`
  (``identities``), what it says about a practitioner;
- :func:`run_cli` (``cli``): serve a sandbox from the command line.

Every resource is built with the ``fhir.resources.R4B`` models; its JSON text is
cached per resource, and agendas per (key, day), so a warm search only filters
and joins strings.
"""

from __future__ import annotations

from portal.identifiers import IDNPS_SYSTEM as IDNPS_SYSTEM
from portal.identifiers import IDNST_SYSTEM as IDNST_SYSTEM
from portal.testing.sandbox.agenda import REASONS as REASONS
from portal.testing.sandbox.agenda import AgendaSlot, generate_day
from portal.testing.sandbox.agenda import Flow as Flow
from portal.testing.sandbox.agenda import default_periods as default_periods
from portal.testing.sandbox.base import SimulatorServer, json_response
from portal.testing.sandbox.cli import run_cli
from portal.testing.sandbox.identities import TOWNS as TOWNS
from portal.testing.sandbox.identities import PractitionerInfo
from portal.testing.sandbox.identities import generated_practitioner as generated_practitioner
from portal.testing.sandbox.practitioners import PS_SEARCH as PS_SEARCH
from portal.testing.sandbox.practitioners import PractitionerSandbox
from portal.testing.sandbox.resources import ACTCODE_SYSTEM as ACTCODE_SYSTEM
from portal.testing.sandbox.resources import APPOINTMENT_TYPE_SYSTEM as APPOINTMENT_TYPE_SYSTEM
from portal.testing.sandbox.resources import FHIR_JSON as FHIR_JSON
from portal.testing.sandbox.resources import ID_TYPE_SYSTEM as ID_TYPE_SYSTEM
from portal.testing.sandbox.resources import LOCATION_ID_TYPE_SYSTEM as LOCATION_ID_TYPE_SYSTEM
from portal.testing.sandbox.resources import PLACE_SYSTEM as PLACE_SYSTEM
from portal.testing.sandbox.resources import PROFILE_BUNDLE as PROFILE_BUNDLE
from portal.testing.sandbox.resources import PROFILE_LOCATION as PROFILE_LOCATION
from portal.testing.sandbox.resources import PROFILE_PRACTITIONER as PROFILE_PRACTITIONER
from portal.testing.sandbox.resources import PROFILE_ROLE as PROFILE_ROLE
from portal.testing.sandbox.resources import PROFILE_SCHEDULE as PROFILE_SCHEDULE
from portal.testing.sandbox.resources import PROFILE_SLOT as PROFILE_SLOT
from portal.testing.sandbox.resources import R38_SYSTEM as R38_SYSTEM
from portal.testing.sandbox.resources import R314_SYSTEM as R314_SYSTEM
from portal.testing.sandbox.resources import SAS_SOURCE as SAS_SOURCE
from portal.testing.sandbox.resources import address as address
from portal.testing.sandbox.resources import coding as coding
from portal.testing.sandbox.resources import entry_json as entry_json
from portal.testing.sandbox.resources import fhir_id as fhir_id
from portal.testing.sandbox.resources import fhir_response as fhir_response
from portal.testing.sandbox.resources import human_name as human_name
from portal.testing.sandbox.resources import identifier as identifier
from portal.testing.sandbox.resources import outcome as outcome
from portal.testing.sandbox.resources import resource_json as resource_json
from portal.testing.sandbox.search import MAX_IDS as MAX_IDS
from portal.testing.sandbox.search import MAX_WINDOW as MAX_WINDOW
from portal.testing.sandbox.search import FhirError, SearchParams, SearchSpec, parse_search
from portal.testing.sandbox.server import DEFAULT_SLOW_S as DEFAULT_SLOW_S
from portal.testing.sandbox.server import MODES as MODES
from portal.testing.sandbox.server import AccountRecord, Behaviour, SandboxServer
from portal.testing.sandbox.server import Mode as Mode

__all__ = [
    "AccountRecord",
    "AgendaSlot",
    "Behaviour",
    "FhirError",
    "PractitionerInfo",
    "PractitionerSandbox",
    "SandboxServer",
    "SearchParams",
    "SearchSpec",
    "SimulatorServer",
    "generate_day",
    "json_response",
    "parse_search",
    "run_cli",
]
