"""Bundle rules: the searchset answered to the SAS platform's slot searches.

Flows: ``ps`` (individual practitioners, INT_R01, profile BundleAgregateur),
``cpts`` (INT_R04, sas-cpts-bundle-aggregator), ``sos`` (SOS Médecins,
sas-sos-bundle-aggregator). The flow comes from the Bundle's profile, else from
its resources' profiles, its self link, its content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.fhir.validation import structure
from portal.fhir.validation.common import Ctx, check_profile
from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, dicts, quote
from portal.fhir.validation.report import Collector
from portal.fhir.validation.rules_graph import (
    MATCH_TYPE,
    REFERENCE,
    Entry,
    cross_checks,
    self_link,
)
from portal.fhir.validation.rules_resources import (
    check_healthcare_service,
    check_location,
    check_organization,
    check_practitioner,
    check_practitioner_role,
    check_schedule,
)
from portal.fhir.validation.rules_slot import check_slot
from portal.fhir.validation.terminology import (
    SERVICE_TYPE_R5_EXTENSION,
    flow_of_profile,
    profile_name,
)

ALLOWED_TYPES = {
    "ps": ("Slot", "Schedule", "Practitioner", "PractitionerRole"),
    "cpts": (
        "Slot",
        "Schedule",
        "Practitioner",
        "PractitionerRole",
        "HealthcareService",
        "Organization",
    ),
    "sos": ("Slot", "Schedule", "Location", "Organization"),
}
PATIENT_TYPES = {"Patient", "RelatedPerson", "Person"}


def detect_flow(bundle: Mapping[str, Any]) -> str:
    """``ps``, ``cpts`` or ``sos``."""
    for url in as_list(as_dict(bundle.get("meta")).get("profile")):
        if isinstance(url, str) and (flow := flow_of_profile(profile_name(url) or "")):
            return flow
    resources = [as_dict(e.get("resource")) for _, e in dicts(bundle.get("entry"))]
    flows = {
        flow
        for resource in resources
        for url in as_list(as_dict(resource.get("meta")).get("profile"))
        if isinstance(url, str) and (flow := flow_of_profile(profile_name(url) or ""))
    }
    for flow in ("sos", "cpts"):
        if flow in flows:
            return flow
    link = self_link(bundle)
    if "/Schedule?" in link or "_revinclude=Slot" in link:
        return "sos"
    if "service-type-reference" in link:
        return "cpts"
    types = {as_str(r.get("resourceType")) for r in resources}
    if "HealthcareService" in types or SERVICE_TYPE_R5_EXTENSION in str(resources):
        return "cpts"
    if "Location" in types and "Practitioner" not in types:
        return "sos"
    return "ps"


def validate_bundle(bundle: Mapping[str, Any], out: Collector) -> str:
    """Check a slot-search Bundle; returns the flow."""
    flow = detect_flow(bundle)
    ctx = Ctx(out=out, flow=flow, in_bundle=True)
    _bundle_level(bundle, ctx)
    entries = _entries(bundle, ctx)
    cross_checks(bundle, entries, ctx)
    return flow


def _bundle_level(bundle: Mapping[str, Any], ctx: Ctx) -> None:
    out = ctx.out
    kind = bundle.get("type")
    if kind != "searchset":
        out.error(
            "Bundle.type", f"type {quote(kind)} : « searchset » attendu (réponse de recherche)", 14
        )
    check_profile(bundle, "Bundle", ctx)
    if ctx.flow in {"cpts", "sos"}:
        if "total" not in bundle:
            out.error("Bundle.total", "total absent (1..1 dans le profil du flux)")
        links = list(dicts(bundle.get("link")))
        if len(links) != 1 and "link" not in bundle:
            out.error("Bundle.link", "lien self absent (link 1..1 dans le profil du flux)")
        elif len(links) > 1:
            out.error("Bundle.link", f"{len(links)} liens : le profil n'en autorise qu'un (self)")
    elif "total" not in bundle:
        out.warning("Bundle.total", "total absent : le kit le compare au nombre de créneaux")
    if not self_link(bundle) and "link" not in bundle and ctx.flow == "ps":
        out.warning(
            "Bundle.link",
            "lien self absent : la fenêtre de dates et les PS demandés (exigences 5, 7, 18) ne "
            "peuvent pas être vérifiés",
        )


def _entries(bundle: Mapping[str, Any], ctx: Ctx) -> list[Entry]:
    out = ctx.out
    entries: list[Entry] = []
    allowed = ALLOWED_TYPES[ctx.flow]
    for index, raw in enumerate(as_list(bundle.get("entry"))):
        where = f"Bundle.entry[{index}]"
        if not isinstance(raw, Mapping):
            continue  # reported by the structural pass
        resource = raw.get("resource")
        if not isinstance(resource, Mapping):
            if resource is None:
                out.error(f"{where}.resource", "entrée sans ressource")
            continue
        base = f"{where}.resource"
        rtype = as_str(resource.get("resourceType"))
        rid = as_str(resource.get("id"))
        entry = Entry(index, base, resource, rtype, f"{rtype}/{rid}")
        _search_mode(raw, entry, ctx)
        _full_url(raw, entry, ctx)
        if not rid and "id" not in resource and rtype != "OperationOutcome":
            out.error(
                f"{base}.id",
                "ressource sans id : les références Type/id ne peuvent pas la désigner",
            )
        if rtype in PATIENT_TYPES:
            out.error(
                base,
                f"ressource {rtype} : aucune donnée patient ne doit être transmise à la plateforme",
            )
        elif rtype == "OperationOutcome":
            _outcome(resource, base, ctx)
        elif rtype not in allowed and structure.is_resource_type(rtype):
            hint = (
                " ; dans le flux PS le lieu est une Location contenue dans le PractitionerRole"
                if rtype == "Location"
                else ""
            )
            out.error(
                f"{base}.resourceType",
                f"ressource {rtype} inattendue dans un bundle du flux {ctx.flow} "
                f"(attendu : {', '.join(allowed)}){hint}",
                22 if rtype == "Location" else None,
            )
        elif rtype == "Slot":
            entry.facts = check_slot(resource, base, ctx)
        elif rtype == "Schedule":
            check_schedule(resource, base, ctx)
        elif rtype == "Practitioner":
            entry.identifiers = check_practitioner(resource, base, ctx)
        elif rtype == "PractitionerRole":
            check_practitioner_role(resource, base, ctx)
        elif rtype == "Location":
            check_location(resource, base, ctx)
        elif rtype == "Organization":
            entry.identifiers = check_organization(resource, base, ctx)
        elif rtype == "HealthcareService":
            check_healthcare_service(resource, base, ctx)
        entries.append(entry)
    return entries


def _search_mode(raw: Mapping[str, Any], entry: Entry, ctx: Ctx) -> None:
    if entry.type == "OperationOutcome":
        expected = "outcome"
    elif entry.type == MATCH_TYPE[ctx.flow]:
        expected = "match"
    else:
        expected = "include"
    where = f"Bundle.entry[{entry.index}].search"
    search = raw.get("search")
    if search is None:
        ctx.out.warning(where, f"search.mode absent : « {expected} » attendu pour un {entry.type}")
        return
    mode = as_dict(search).get("mode")
    if mode != expected:
        ctx.out.error(
            f"{where}.mode",
            f"search.mode {quote(mode)} : « {expected} » attendu pour un {entry.type} "
            f"dans le flux {ctx.flow}",
        )


def _full_url(raw: Mapping[str, Any], entry: Entry, ctx: Ctx) -> None:
    where = f"Bundle.entry[{entry.index}].fullUrl"
    full_url = raw.get("fullUrl")
    if not isinstance(full_url, str):
        if full_url is None:
            report = ctx.out.error if ctx.flow in {"cpts", "sos"} else ctx.out.warning
            report(where, "fullUrl absent : l'URL absolue de la ressource est attendue")
        return
    match = REFERENCE.match(full_url)
    rid = as_str(entry.resource.get("id"))
    if match and rid and (match.group("type"), match.group("id")) != (entry.type, rid):
        ctx.out.error(
            where,
            f"fullUrl {quote(full_url)} ne correspond pas à la ressource {entry.type}/{rid}",
        )


def _outcome(resource: Mapping[str, Any], base: str, ctx: Ctx) -> None:
    for index, issue in dicts(resource.get("issue")):
        text = as_str(issue.get("diagnostics")) or as_str(as_dict(issue.get("details")).get("text"))
        ctx.out.warning(
            f"{base}.issue[{index}]",
            f"OperationOutcome joint ({as_str(issue.get('severity')) or '?'}) : "
            f"{text or 'sans texte'}",
        )
