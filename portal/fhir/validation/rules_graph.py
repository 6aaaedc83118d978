"""Bundle-wide checks: references, cardinalities, one Schedule per PS and place, the
request echoed by the self link (date window, requested ids)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from portal.fhir.validation.common import Ctx, parse_instant, reference_of
from portal.fhir.validation.jsonutil import as_dict, as_list, as_str, dicts, quote
from portal.fhir.validation.rules_slot import SlotFacts
from portal.identifiers import IDNPS_SYSTEM, IDNST_SYSTEM

#: the searched resource type (search.mode = match); the others are included
MATCH_TYPE = {"ps": "Slot", "cpts": "Slot", "sos": "Schedule"}
#: resources each non-empty bundle must hold (profile slices / test kit), with the requirement
REQUIRED_TYPES: dict[str, tuple[tuple[str, int | None], ...]] = {
    "ps": (("Practitioner", 15), ("PractitionerRole", 19), ("Schedule", 12)),
    "cpts": (("Practitioner", 15), ("PractitionerRole", 19), ("Schedule", 12)),
    "sos": (("Schedule", None), ("Location", None), ("Organization", None)),
}

REFERENCE = re.compile(
    r"^(?:(?P<base>https?://\S+?)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/\S+)?$"
)


@dataclass
class Entry:
    index: int
    base: str
    resource: Mapping[str, Any]
    type: str
    key: str  # "Type/id"
    facts: SlotFacts | None = None
    identifiers: list[str] = field(default_factory=list)


def self_link(bundle: Mapping[str, Any]) -> str:
    links = list(dicts(bundle.get("link")))
    for _, link in links:
        if link.get("relation") == "self":
            return as_str(link.get("url"))
    return as_str(links[0][1].get("url")) if len(links) == 1 else ""


def query(url: str) -> list[tuple[str, str]]:
    """Query parameters, decoded without turning ``+`` into a space (``+02:00`` offsets)."""
    query = urlsplit(url).query if "?" in url else ""
    pairs = []
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((unquote(name), unquote(value)))
    return pairs


def _references(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """``(location, reference)`` of every Reference under ``node``."""
    if isinstance(node, Mapping):
        reference = node.get("reference")
        if isinstance(reference, str) and reference.strip():
            yield f"{where}.reference", reference.strip()
        for key, value in node.items():
            if key != "reference":
                yield from _references(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, f"{where}[{index}]")


def _element(location: str, base: str) -> str:
    """``("Bundle.entry[0].resource.actor[1].reference", base)`` → ``"actor"``."""
    return location[len(base) + 1 :].split(".", 1)[0].split("[", 1)[0]


def _ref_requirement(resource_type: str, location: str, base: str) -> int | None:
    element = _element(location, base)
    return {("Slot", "schedule"): 12, ("PractitionerRole", "practitioner"): 21}.get(
        (resource_type, element), 43
    )


def cross_checks(bundle: Mapping[str, Any], entries: list[Entry], ctx: Ctx) -> None:
    out = ctx.out
    by_key: dict[str, Entry] = {}
    by_url: dict[str, Entry] = {}
    for entry in entries:
        if entry.key in by_key and not entry.key.endswith("/"):
            out.error(
                f"{entry.base}.id",
                f"{entry.key} en double (déjà l'entrée {by_key[entry.key].index})",
            )
        by_key.setdefault(entry.key, entry)
        raw = as_list(bundle.get("entry"))[entry.index]
        if isinstance(url := as_dict(raw).get("fullUrl"), str):
            by_url.setdefault(url, entry)

    edges: dict[int, set[int]] = {entry.index: set() for entry in entries}
    for entry in entries:
        contained_ids = {as_str(c.get("id")) for _, c in dicts(entry.resource.get("contained"))}
        used_local: set[str] = set()
        for location, reference in _references(entry.resource, entry.base):
            if reference.startswith("#"):
                used_local.add(reference[1:])
                if reference != "#" and reference[1:] not in contained_ids:
                    out.error(
                        location, f"{quote(reference)} : aucune ressource contenue de cet id", 43
                    )
                continue
            if _element(location, entry.base) == "location" and entry.type == "PractitionerRole":
                continue  # a non-contained location is reported by the PractitionerRole rules
            target = by_url.get(reference)
            match = REFERENCE.match(reference)
            if target is None and match and not match.group("base"):
                target = by_key.get(f"{match.group('type')}/{match.group('id')}")
            if target is None:
                what = (
                    "mal formée"
                    if not match and not reference.startswith("urn:")
                    else "non résolue"
                )
                out.error(
                    location,
                    f"référence {what} {quote(reference)} : aucune entrée du bundle ne porte "
                    "cette ressource (elle doit être incluse)",
                    _ref_requirement(entry.type, location, entry.base),
                )
                continue
            edges[entry.index].add(target.index)
            edges[target.index].add(entry.index)
        for index, item in dicts(entry.resource.get("contained")):
            if as_str(item.get("id")) not in used_local:
                out.error(
                    f"{entry.base}.contained[{index}]",
                    f"ressource contenue {quote(item.get('id'))} référencée nulle part "
                    "(une ressource contenue doit être référencée par « #id »)",
                )

    slots = [e for e in entries if e.type == "Slot"]
    _counts(bundle, entries, slots, ctx)
    if not slots:
        return
    _orphans(entries, edges, ctx)
    if ctx.flow == "sos":
        _duplicates(entries, "Organization", "structure", ctx, None)
    else:
        _duplicates(entries, "Practitioner", "PS", ctx, 44)
        _schedule_coherence(entries, by_key, ctx)
    _self_link_checks(bundle, entries, slots, ctx)


def _counts(bundle: Mapping[str, Any], entries: list[Entry], slots: list[Entry], ctx: Ctx) -> None:
    out = ctx.out
    total = bundle.get("total")
    entries = [e for e in entries if e.type != "OperationOutcome"]  # search.mode = outcome
    if not entries:
        if isinstance(total, int) and total > 0:
            out.error("Bundle.total", f"total = {total} mais aucun créneau")
        if isinstance(bundle.get("entry"), list | None):
            out.warning(
                "Bundle",
                "bundle vide : réponse correcte quand aucun créneau n'est disponible ; "
                "aucune autre règle n'a pu être vérifiée",
                8,
            )
        return
    if not slots:
        out.error(
            "Bundle.entry",
            f"aucun créneau mais {len(entries)} ressource(s) : sans créneau disponible, renvoyez "
            "un Bundle vide (total 0, sans entry)",
            8,
        )
        return
    if isinstance(total, int) and ctx.flow != "sos" and total != len(slots):
        out.warning(
            "Bundle.total",
            f"total = {total} mais {len(slots)} créneau(x) : le kit attend le nombre de Slot",
            13,
        )
    present = {e.type for e in entries}
    for rtype, req in REQUIRED_TYPES[ctx.flow]:
        if rtype not in present:
            out.error(
                "Bundle.entry",
                f"aucune ressource {rtype} alors que le bundle contient des créneaux "
                f"(flux {ctx.flow})",
                req,
            )


def _orphans(entries: list[Entry], edges: dict[int, set[int]], ctx: Ctx) -> None:
    match_type = MATCH_TYPE[ctx.flow]
    seen = {e.index for e in entries if e.type == match_type}
    todo = list(seen)
    while todo:
        for neighbour in edges[todo.pop()]:
            if neighbour not in seen:
                seen.add(neighbour)
                todo.append(neighbour)
    for entry in entries:
        if entry.index not in seen and entry.type != "OperationOutcome":
            ctx.out.warning(
                entry.base,
                f"{entry.key} incluse mais reliée à aucun créneau : n'incluez que les ressources "
                "référencées",
                42,
            )


def _duplicates(entries: list[Entry], rtype: str, label: str, ctx: Ctx, req: int | None) -> None:
    first: dict[str, Entry] = {}
    for entry in entries:
        if entry.type != rtype:
            continue
        for value in entry.identifiers:
            if value in first and first[value] is not entry:
                ctx.out.error(
                    f"{entry.base}.identifier",
                    f"{label} {quote(value)} déjà décrit par l'entrée {first[value].index} : une "
                    f"seule ressource {rtype} par {label}, référencée par tous ses Schedule",
                    req,
                )
            first.setdefault(value, entry)


def _schedule_coherence(entries: list[Entry], by_key: dict[str, Entry], ctx: Ctx) -> None:
    """Schedule → (Practitioner, PractitionerRole) agree with PractitionerRole → Practitioner."""
    role_owner: dict[str, int] = {}
    for entry in entries:
        if entry.type != "Schedule":
            continue
        actors = [reference_of(a) for _, a in dicts(entry.resource.get("actor"))]
        practitioners = [a for a in actors if a.split("/")[-2:-1] == ["Practitioner"]]
        roles = [a for a in actors if a.split("/")[-2:-1] == ["PractitionerRole"]]
        if len(practitioners) != 1 or len(roles) != 1:
            continue  # reported by the Schedule rules
        role = by_key.get("/".join(roles[0].split("/")[-2:]))
        if role is None:
            continue
        if role.key in role_owner:
            ctx.out.warning(
                f"{entry.base}.actor",
                f"{role.key} a déjà un Schedule (entrée {role_owner[role.key]}) : un Schedule par "
                "PS et par lieu",
                42,
            )
        role_owner.setdefault(role.key, entry.index)
        owner = reference_of(role.resource.get("practitioner"))
        wanted = "/".join(practitioners[0].split("/")[-2:])
        if owner and "/".join(owner.split("/")[-2:]) != wanted:
            ctx.out.error(
                f"{entry.base}.actor",
                f"incohérence : le Schedule désigne {wanted} mais son {role.key} appartient à "
                f"{'/'.join(owner.split('/')[-2:])}",
                43,
            )


def _bounds(values: list[str]) -> tuple[datetime | None, datetime | None]:
    lower = upper = None
    for value in values:
        prefix, moment = value[:2], parse_instant(value[2:])
        if moment is None:
            continue
        if prefix in {"ge", "gt"}:
            lower = moment
        elif prefix in {"le", "lt"}:
            upper = moment
    return lower, upper


def _self_link_checks(
    bundle: Mapping[str, Any], entries: list[Entry], slots: list[Entry], ctx: Ctx
) -> None:
    url = self_link(bundle)
    if not url:
        return
    params = query(url)
    start_name = "_has:Slot:schedule:start" if ctx.flow == "sos" else "start"
    lower, upper = _bounds([v for k, v in params if k == start_name])
    for slot in slots:
        start = slot.facts.start if slot.facts else None
        if start is None:
            continue
        if lower and start < lower:
            ctx.out.error(
                f"{slot.base}.start",
                f"créneau commençant {start.isoformat()} avant la borne de la recherche "
                f"{start_name}=ge{lower.isoformat()}",
                5,
            )
        if upper and start > upper:
            ctx.out.error(
                f"{slot.base}.start",
                f"créneau commençant {start.isoformat()} après la borne de la recherche "
                f"{start_name}=le{upper.isoformat()}",
                7,
            )
    if ctx.flow == "sos":
        name, system, rtype, req = (
            "actor:Location.organization.identifier",
            IDNST_SYSTEM,
            "Organization",
            None,
        )
    else:
        name, system, rtype, req = (
            "schedule.actor:Practitioner.identifier",
            IDNPS_SYSTEM,
            "Practitioner",
            18,
        )
    asked = {
        token.rpartition("|")[2]
        for key, value in params
        if key == name
        for token in value.split(",")
        if token.rpartition("|")[0] in {"", system}
    }
    if not asked:
        return
    for entry in entries:
        if entry.type != rtype:
            continue
        for value in entry.identifiers:
            if value not in asked:
                ctx.out.error(
                    f"{entry.base}.identifier",
                    f"{quote(value)} ne fait pas partie des identifiants demandés ({name}) : "
                    "le bundle ne doit décrire que les structures ou PS recherchés",
                    req,
                )
