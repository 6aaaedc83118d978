"""Simulator of a CPTS scheduling tool (INT_R04).

Run it alone: ``python -m connectors.cpts.sandbox --port 8103``.

The individual-PS search plus
``&_include=Slot:service-type-reference&_include:iterate=HealthcareService:organization``.
Each Slot carries, in ``serviceType``, the R5 extension
``http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType`` pointing
to a HealthcareService ``providedBy`` the CPTS Organization (IDNST ``1``+FINESS);
``meta.security`` always holds ``CPTS``. A practitioner in two CPTS has slots
referencing both services.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from typing import Any

from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.organization import Organization

from portal.identifiers import IDNST_SYSTEM
from portal.testing.sandbox import (
    AgendaSlot,
    Behaviour,
    Flow,
    PractitionerInfo,
    PractitionerSandbox,
    SearchParams,
    fhir_id,
    generated_practitioner,
    identifier,
    resource_json,
    run_cli,
)

__all__ = ["CptsSandbox", "make_sandbox"]

SERVICE_TYPE_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Slot.serviceType"
R66_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
_IG = "https://interop.esante.gouv.fr/ig/fhir/sas/StructureDefinition/"


class CptsSandbox(PractitionerSandbox):
    """A CPTS tool: PS slots tied to HealthcareService → Organization (CPTS)."""

    flow: Flow = "cpts"
    label = "Outil CPTS (simulation)"
    resource_types = (
        "Slot",
        "Schedule",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Organization",
    )
    bundle_profile = _IG + "sas-cpts-bundle-aggregator"
    slot_profile = _IG + "sas-cpts-slot-aggregator"

    def __init__(
        self,
        *,
        seed: int = 0,
        port: int = 0,
        behaviour: Behaviour | None = None,
        practitioners: Mapping[str, PractitionerInfo] | None = None,
        cpts_names: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(seed=seed, port=port, behaviour=behaviour, practitioners=practitioners)
        self.cpts_names: dict[str, str] = dict(cpts_names or {})

    def practitioner(self, national_id: str) -> PractitionerInfo:
        info = self.practitioners.get(national_id)
        if info is None or not info.cpts:
            info = info or generated_practitioner(self.seed, national_id)
            info = self.practitioners[national_id] = _with_cpts(self.seed, national_id, info)
        return info

    def cpts_of(self, info: PractitionerInfo) -> tuple[str, ...]:
        return info.cpts

    def slot_data(self, slot: AgendaSlot, info: PractitionerInfo) -> dict[str, Any]:
        data = super().slot_data(slot, info)
        modalities = [s for s in data["serviceType"] if "coding" in s]
        reasons = [s for s in data["serviceType"] if "coding" not in s]
        services = [
            {
                "extension": [
                    {
                        "url": SERVICE_TYPE_EXTENSION,
                        "valueReference": {"reference": f"HealthcareService/hs-{fhir_id(c)}"},
                    }
                ],
                "coding": [{"system": R66_SYSTEM, "code": "604"}],
            }
            for c in self.cpts_of(info)
        ]
        data["serviceType"] = modalities + services + reasons
        return data

    def includes(self, national_id: str, info: PractitionerInfo, params: SearchParams) -> list[str]:
        out = super().includes(national_id, info, params)
        for cpts in self.cpts_of(info):
            cid = fhir_id(cpts)
            if params.includes("Slot:service-type-reference"):
                out.append(
                    self.entry("HealthcareService", f"hs-{cid}", "include", self._service_json, cid)
                )
            if params.includes("HealthcareService:organization"):
                out.append(
                    self.entry(
                        "Organization", f"cpts-{cid}", "include", self._organization_json, cpts
                    )
                )
        return out

    def cpts_name(self, cpts: str) -> str:
        return self.cpts_names.get(cpts) or f"CPTS {cpts[-4:]} (simulation)"

    def _service_json(self, cid: str) -> str:
        return resource_json(
            HealthcareService,
            {
                "resourceType": "HealthcareService",
                "id": f"hs-{cid}",
                "meta": {"profile": [_IG + "sas-cpts-healthcareservice-aggregator"]},
                "active": True,
                "providedBy": {"reference": f"Organization/cpts-{cid}"},
                "name": "Soins non programmés",
            },
        )

    def _organization_json(self, cpts: str) -> str:
        return resource_json(
            Organization,
            {
                "resourceType": "Organization",
                "id": f"cpts-{fhir_id(cpts)}",
                "meta": {"profile": [_IG + "sas-cpts-organization-aggregator"]},
                "identifier": [identifier(IDNST_SYSTEM, cpts, "IDNST")],
                "name": self.cpts_name(cpts),
            },
        )

    def describe_slot(self, slot: AgendaSlot) -> list[tuple[str, str]]:
        rows = super().describe_slot(slot)
        cpts = self.cpts_of(self.practitioner(slot.key))
        return [*rows, ("CPTS", ", ".join(self.cpts_name(c) for c in cpts))]


def _with_cpts(seed: int, key: str, info: PractitionerInfo) -> PractitionerInfo:
    """``info`` with generated CPTS: one per commune (so neighbours share it), a second
    one for about 15 % of the practitioners."""
    rng = random.Random(f"{seed}:{key}:cpts")
    department = (info.postal_code or "47000")[:2]

    def finess(name: str) -> str:
        digits = random.Random(f"{seed}:{name}:finess").randrange(10**6)
        return f"1{department}9{digits:06d}"

    cpts = [finess(info.city or key)]
    if rng.random() < 0.15:
        cpts.append(finess(f"{info.city or key}:2"))
    return dataclasses.replace(info, cpts=tuple(cpts))


def make_sandbox(
    *,
    seed: int = 0,
    port: int = 0,
    practitioners: Mapping[str, PractitionerInfo] | None = None,
    cpts_names: Mapping[str, str] | None = None,
    behaviour: Behaviour | None = None,
) -> CptsSandbox:
    """A CPTS tool simulator (not started: use ``with`` or ``.start()``).

    ``practitioners[...].cpts`` lists each practitioner's CPTS (``1``+FINESS);
    ``cpts_names`` maps those ids to the CPTS names.
    """
    return CptsSandbox(
        seed=seed,
        port=port,
        behaviour=behaviour,
        practitioners=practitioners,
        cpts_names=cpts_names,
    )


if __name__ == "__main__":
    raise SystemExit(run_cli(make_sandbox, "Outil CPTS (simulation)"))
