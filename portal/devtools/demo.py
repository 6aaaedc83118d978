"""The embedded demo: sandbox editors on loopback, fed from the demo directory.

``sas-portal demo`` starts two individual-PS editors (``doctolib_like``), one
SOS Médecins and one CPTS simulator, configures the portal to call them over
real HTTP, runs a first refresh and the in-process scheduler.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.devtools.demo_directory import GENERAL_PRACTICE
from portal.domain import source_detail
from portal.models import ConnectorBinding, LrmOrigin, PlaceOfPractice, Practitioner, Structure
from portal.testing.sandbox import PractitionerInfo, SandboxServer

DEMO_EDITORS = ("editeur-a", "editeur-b")
DEMO_ORIGIN = "sas-portal-demo"
#: the origin the national LRM simulator puts in its INT_L01 links
LRM_SIMULATOR_ORIGIN = "TEST-SAMU000"
LRM_SIMULATOR_LABEL = "Simulateur LRM national (démonstration)"


def ensure_demo_origins(session: Session) -> tuple[str, bool]:
    """Allow the national LRM simulator's origin in the demo; ``(code, enabled)``.

    Created enabled when missing (flushes, the caller commits). An existing row is left
    as an administrator set it: a disabled origin stays disabled. In production the
    allow-list is only ever filled by an administrator.
    """
    origin = session.get(LrmOrigin, LRM_SIMULATOR_ORIGIN)
    if origin is None:
        origin = LrmOrigin(code=LRM_SIMULATOR_ORIGIN, label=LRM_SIMULATOR_LABEL, enabled=True)
        session.add(origin)
        session.flush()
    return origin.code, origin.enabled


def practitioner_infos(session: Session, source: str) -> dict[str, PractitionerInfo]:
    """What a sandbox should know of the practitioners bound to ``source``."""
    rows = session.execute(
        select(Practitioner, PlaceOfPractice, ConnectorBinding)
        .join(ConnectorBinding, ConnectorBinding.practitioner_id == Practitioner.id)
        .outerjoin(PlaceOfPractice, PlaceOfPractice.practitioner_id == Practitioner.id)
        .where(ConnectorBinding.source == source)
        .order_by(Practitioner.id, PlaceOfPractice.id)
    )
    infos: dict[str, PractitionerInfo] = {}
    for practitioner, place, binding in rows:
        if practitioner.national_id in infos:
            continue  # first place of practice only
        cpts = (binding.upstream_ids or {}).get("cpts")
        structure = ""
        if place is not None and place.structure_id is not None:
            structure = session.get(Structure, place.structure_id).national_id  # type: ignore[union-attr]
        infos[practitioner.national_id] = PractitionerInfo(
            family_name=practitioner.family_name,
            given_name=practitioner.given_name,
            # a nurse's or a midwife's slots carry no R38 specialty
            specialty=practitioner.specialty_code
            or (GENERAL_PRACTICE if practitioner.profession_code == "10" else ""),
            line=place.address_line if place else "",
            postal_code=place.postal_code if place else "",
            city=place.city if place else "",
            structure=structure,
            phone=place.phone if place else "",
            cpts=(cpts,) if cpts else (),
        )
    return infos


def cpts_names(session: Session) -> dict[str, str]:
    return {
        s.national_id: s.name
        for s in session.scalars(select(Structure).where(Structure.kind == "CPTS"))
    }


def sos_associations(session: Session) -> dict[str, Any]:
    """SOS associations bound to ``sos_medecins`` with their consultation sites."""
    from connectors.sos_medecins.sandbox import AssociationInfo, SiteInfo

    sites: dict[int, list[PlaceOfPractice]] = defaultdict(list)
    for place in session.scalars(
        select(PlaceOfPractice).where(PlaceOfPractice.practitioner_id.is_(None))
    ):
        if place.structure_id is not None:
            sites[place.structure_id].append(place)
    associations = {}
    for structure in session.scalars(
        select(Structure)
        .join(ConnectorBinding, ConnectorBinding.structure_id == Structure.id)
        .where(ConnectorBinding.source == "sos_medecins")
    ):
        associations[structure.national_id] = AssociationInfo(
            name=structure.name,
            sites=tuple(
                SiteInfo(
                    id=f"site-{p.id}",
                    name=p.name or structure.name,
                    line=p.address_line,
                    postal_code=p.postal_code,
                    city=p.city,
                    phone=p.phone,
                    latitude=p.lat,
                    longitude=p.lon,
                )
                for p in sites.get(structure.id, [])
            ),
        )
    return associations


@dataclass
class DemoSandboxes:
    """The running simulators, by source."""

    servers: dict[str, SandboxServer] = field(default_factory=dict)

    def connectors_config(self) -> dict[str, Any]:
        """The ``CONNECTORS`` configuration pointing the portal at the simulators."""
        editors = {
            source_detail(source): _section(server)
            for source, server in self.servers.items()
            if source.startswith("doctolib_like:")
        }
        config: dict[str, Any] = {"doctolib_like": {"editors": editors}}
        for name in ("sos_medecins", "cpts"):
            if name in self.servers:
                config[name] = _section(self.servers[name])
        return config

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


def merged_connectors(
    instance: Mapping[str, Any] | None, demo: Mapping[str, Any]
) -> dict[str, Any]:
    """The instance's ``CONNECTORS`` with the demo's sections for the in-repo connectors.

    A third-party connector's section (any name the demo does not simulate) is kept
    as the instance configured it, so it keeps working in ``sas-portal demo``.
    """
    return {**dict(instance or {}), **demo}


def _section(server: SandboxServer) -> Mapping[str, Any]:
    return {"base_url": server.url, "origin": DEMO_ORIGIN, "enabled": True, "timeout_s": 5.0}


def start_sandboxes(session: Session, *, seed: int = 2026, base_port: int = 0) -> DemoSandboxes:
    """Start the four demo simulators (ports ``base_port``…``+3``, or free ones when 0)."""
    from connectors.cpts.sandbox import make_sandbox as make_cpts
    from connectors.doctolib_like.sandbox import make_sandbox as make_editor
    from connectors.sos_medecins.sandbox import make_sandbox as make_sos

    def port(offset: int) -> int:
        return base_port + offset if base_port else 0

    stack = DemoSandboxes()
    try:
        for i, editor in enumerate(DEMO_EDITORS):
            source = f"doctolib_like:{editor}"
            stack.servers[source] = make_editor(
                seed=seed + i, port=port(i), practitioners=practitioner_infos(session, source)
            ).start()
        stack.servers["sos_medecins"] = make_sos(
            seed=seed, port=port(2), associations=sos_associations(session)
        ).start()
        stack.servers["cpts"] = make_cpts(
            seed=seed, port=port(3), practitioners=practitioner_infos(session, "cpts"),
            cpts_names=cpts_names(session),
        ).start()  # fmt: skip
    except BaseException:
        stack.stop()
        raise
    return stack
