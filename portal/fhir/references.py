"""Reference resolution inside a FHIR Bundle, on plain JSON dicts.

Editors write references every way FHIR allows — relative (``Schedule/1``),
absolute (``https://x/fhir/Schedule/1``), ``urn:uuid:…`` full URLs, contained
(``#loc``) or logical (an ``identifier`` and no ``reference``) — so
:class:`BundleIndex` resolves them all, and :class:`Resolver` follows the chains
of the national guide (Slot → Schedule → actors, Slot → HealthcareService →
Organization) once per Schedule or service, whatever the number of Slots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from portal.domain import Address
from portal.identifiers import IDNPS_SYSTEM, IDNST_SYSTEM

Resource = Mapping[str, Any]



class Target(NamedTuple):  # a tuple: built for every Slot, and cheaper than a dataclass
    """A resolved reference: the resource and the top-level resource holding it."""

    resource: Resource
    container: Resource

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", ""))


@dataclass(frozen=True, slots=True)
class Place:
    """Who and where a Schedule stands for."""

    practitioner: str | None = None
    structure: str | None = None
    address: Address | None = None


def as_list(value: Any) -> Sequence[Any]:
    """A JSON array, or () for anything else (a tolerant reader never trusts a shape)."""
    return value if isinstance(value, list) else ()


def as_dict(value: Any) -> Mapping[str, Any]:
    """A JSON object, or {} for anything else."""
    return value if isinstance(value, dict) else {}


def strip_history(path: str) -> str:
    """A URL or reference without query, fragment, trailing slash and ``/_history/n``."""
    path = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    head, sep, _version = path.rpartition("/_history/")
    return head if sep else path


def identifier_value(resource: Resource, system: str, type_code: str) -> str | None:
    """The value of the identifier with ``system`` (or, failing that, of type ``type_code``)."""
    fallback = None
    for ident in as_list(resource.get("identifier")):
        ident = as_dict(ident)
        value = ident.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        if ident.get("system") == system:
            return value.strip()
        if fallback is None:
            codings = as_list(as_dict(ident.get("type")).get("coding"))
            if any(as_dict(c).get("code") == type_code for c in codings):
                fallback = value.strip()
    return fallback


def logical_identifier(reference: Any) -> tuple[str | None, str] | None:
    """``(system, value)`` of a logical reference (``{"identifier": {…}}``), else None."""
    ident = as_dict(as_dict(reference).get("identifier"))
    value = ident.get("value")
    if isinstance(value, str) and value.strip():
        system = ident.get("system")
        return (system if isinstance(system, str) else None), value.strip()
    return None


def reference_text(reference: Any) -> str:
    """How a reference reads in a warning."""
    ref = as_dict(reference)
    if isinstance(ref.get("reference"), str):
        return str(ref["reference"])
    logical = logical_identifier(ref)
    return f"{logical[0] or ''}|{logical[1]}" if logical else "(vide)"


class BundleIndex:
    """Every top-level resource of a Bundle, by ``fullUrl`` and by ``Type/id``."""

    def __init__(self, entries: Sequence[Any]) -> None:
        self.by_type: dict[str, list[Resource]] = {}
        self.by_full_url: dict[str, Resource] = {}
        self.by_key: dict[str, Resource] = {}
        self._base: dict[int, str] = {}
        self._contained: dict[int, dict[str, Resource]] = {}
        self._resolved: dict[tuple[str, str | None, str | None], Target | None] = {}
        #: whether some Slot is a search "match" (then "include" Slots are context only)
        self.slot_match = False
        ambiguous = False
        for entry in entries:
            resource = entry.get("resource") if type(entry) is dict else None
            if type(resource) is not dict or not resource:
                continue
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if type(rtype) is not str:
                continue
            self.by_type.setdefault(rtype, []).append(resource)
            if rtype == "Slot":  # read, never referred to: not worth indexing
                if not self.slot_match and as_dict(entry.get("search")).get("mode") == "match":
                    self.slot_match = True
                continue
            full_url = entry.get("fullUrl")
            key = f"{rtype}/{rid}" if type(rid) is str else None
            if type(full_url) is str and full_url:
                self.by_full_url.setdefault(full_url, resource)
                if key is None:  # e.g. an entry known by its fullUrl only
                    _head, sep, tail = strip_history(full_url).rpartition(f"/{rtype}/")
                    key = f"{rtype}/{tail}" if sep and "/" not in tail else None
            if key and self.by_key.setdefault(key, resource) is not resource:
                ambiguous = True
        if ambiguous:  # one Type/id on two servers: relative references need the base
            self._index_bases(entries)

    def _index_bases(self, entries: Sequence[Any]) -> None:
        for entry in entries:
            resource = as_dict(as_dict(entry).get("resource"))
            full_url, rtype = as_dict(entry).get("fullUrl"), resource.get("resourceType")
            if isinstance(full_url, str) and isinstance(rtype, str):
                head, sep, _tail = strip_history(full_url).rpartition(f"/{rtype}/")
                if sep:
                    self._base[id(resource)] = head

    def of_type(self, rtype: str) -> list[Resource]:
        return self.by_type.get(rtype, [])

    def _contained_by_id(self, container: Resource) -> dict[str, Resource]:
        found = self._contained.get(id(container))
        if found is None:
            found = {}
            for res in as_list(container.get("contained")):
                if isinstance(res, dict) and isinstance(res.get("id"), str):
                    found.setdefault(res["id"], res)
            self._contained[id(container)] = found
        return found

    def resolve(
        self, reference: Any, *, container: Resource, expected: str | None = None
    ) -> Target | None:
        """Resolve a Reference found in ``container`` (a top-level resource); None if dangling.

        ``expected`` is the resource type the element must point at; it lets a
        bare id (``"123"``) resolve as ``expected/123`` and an untyped
        reference be checked.
        """
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str):
            return None
        if ref.startswith("#"):
            if ref == "#":
                return Target(container, container)
            found = self._contained_by_id(container).get(ref[1:])
            return Target(found, container) if found is not None else None
        # Many Slots share one Schedule: remember each answer (relative references
        # depend on the referring entry's base, hence the key).
        key = (ref, self._base.get(id(container)) if self._base else None, expected)
        if key not in self._resolved:
            self._resolved[key] = self._find(*key)
        return self._resolved[key]

    def _find(self, ref: str, base: str | None, expected: str | None) -> Target | None:
        ref = ref.strip()
        if not ref or ref.startswith("#"):
            return None
        resource = self.by_full_url.get(ref)
        if resource is None and base and "://" not in ref and not ref.startswith("urn:"):
            resource = self.by_full_url.get(f"{base}/{ref}")
        if resource is None and not ref.startswith("urn:"):
            parts = strip_history(ref).rsplit("/", 2)
            if len(parts) >= 2:
                resource = self.by_key.get(f"{parts[-2]}/{parts[-1]}")
            elif expected:
                resource = self.by_key.get(f"{expected}/{parts[-1]}")
        if resource is None or (expected and resource.get("resourceType") != expected):
            return None
        return Target(resource, resource)


def location_address(location: Resource) -> Address | None:
    """The Address of a Location (``line`` joined with ", ", or ``text``)."""
    addr = as_dict(location.get("address"))
    lines = [str(x).strip() for x in as_list(addr.get("line")) if isinstance(x, str) and x.strip()]
    line = ", ".join(lines) or str(addr.get("text") or "").strip()
    postal_code = str(addr.get("postalCode") or "").strip()
    city = str(addr.get("city") or "").strip()
    if not (line or postal_code or city):
        return None
    return Address(line=line, postal_code=postal_code, city=city)


class Resolver:
    """Follows the guide's resolution chains, caching one result per Schedule or service."""

    def __init__(self, index: BundleIndex, warn: Callable[[str], None]) -> None:
        self.index = index
        self._warn = warn
        self._places: dict[int, Place] = {}
        self._services: dict[str, str | None] = {}

    def _organization_id(self, reference: Any, container: Resource, where: str) -> str | None:
        """IDNST of the Organization referred to, or the logical identifier's value."""
        if not reference:
            return None
        target = self.index.resolve(reference, container=container)
        if target is not None and target.type == "Organization":
            found = identifier_value(target.resource, IDNST_SYSTEM, "IDNST")
            if found:
                return found
        logical = logical_identifier(reference)
        if logical:
            return logical[1]
        if target is None and as_dict(reference).get("reference"):
            self._warn(f"{where} : organisation introuvable « {reference_text(reference)} »")
        return None

    def _practitioner_id(self, reference: Any, container: Resource) -> str | None:
        target = self.index.resolve(reference, container=container, expected="Practitioner")
        if target is not None:
            found = identifier_value(target.resource, IDNPS_SYSTEM, "IDNPS")
            if found:
                return found
        logical = logical_identifier(reference)
        return logical[1] if logical else None

    def place(self, schedule: Target) -> Place:
        """Practitioner, structure and address behind a Schedule (computed once per Schedule)."""
        cached = self._places.get(id(schedule.resource))
        if cached is None:
            cached = self._places[id(schedule.resource)] = self._place(schedule)
        return cached

    def _place(self, schedule: Target) -> Place:
        where = f"Schedule/{schedule.resource.get('id', '?')}"
        practitioners: list[str] = []
        role_practitioner = structure = None
        address = None
        for actor in as_list(schedule.resource.get("actor")):
            target = self.index.resolve(actor, container=schedule.container)
            if target is None:
                logical = logical_identifier(actor)
                kind = as_dict(actor).get("type")
                if logical and (logical[0] == IDNPS_SYSTEM or kind == "Practitioner"):
                    practitioners.append(logical[1])
                elif logical and (logical[0] == IDNST_SYSTEM or kind == "Organization"):
                    structure = structure or logical[1]
                else:
                    self._warn(f"{where} : acteur introuvable « {reference_text(actor)} »")
                continue
            res, cont = target.resource, target.container
            if target.type == "Practitioner":
                found = identifier_value(res, IDNPS_SYSTEM, "IDNPS")
                if found:
                    practitioners.append(found)
            elif target.type == "PractitionerRole":
                role_practitioner = role_practitioner or self._practitioner_id(
                    res.get("practitioner"), cont
                )
                structure = structure or self._organization_id(res.get("organization"), cont, where)
                for loc_ref in as_list(res.get("location")):
                    loc = self.index.resolve(loc_ref, container=cont, expected="Location")
                    if loc is not None:
                        address = address or location_address(loc.resource)
                        structure = structure or self._organization_id(
                            loc.resource.get("managingOrganization"), loc.container, where
                        )
            elif target.type == "Location":
                address = address or location_address(res)
                structure = structure or self._organization_id(
                    res.get("managingOrganization"), cont, where
                )
            elif target.type == "Organization":
                structure = structure or identifier_value(res, IDNST_SYSTEM, "IDNST")
            elif target.type == "HealthcareService":
                structure = structure or self._organization_id(res.get("providedBy"), cont, where)
        distinct = list(dict.fromkeys(practitioners))
        if len(distinct) > 1:
            self._warn(f"{where} : plusieurs praticiens ({', '.join(distinct)}), le premier retenu")
        practitioner = distinct[0] if distinct else role_practitioner
        return Place(practitioner=practitioner, structure=structure, address=address)

    def cpts(self, services: list[Any], slot: Resource, where: str) -> tuple[str, ...]:
        """The prefixed ids of the CPTS providing a (top-level) Slot's HealthcareServices."""
        found: list[str] = []
        for ref in services:
            target = self.index.resolve(ref, container=slot)
            key = str(id(target.resource)) if target else reference_text(ref)
            if key not in self._services:
                self._services[key] = self._cpts_id(ref, target, where)
            value = self._services[key]
            if value:
                found.append(value)
        return tuple(dict.fromkeys(found))

    def _cpts_id(self, reference: Any, target: Target | None, where: str) -> str | None:
        if target is None:
            logical = logical_identifier(reference)
            if logical:
                return logical[1]
            self._warn(f"{where} : service CPTS introuvable « {reference_text(reference)} »")
            return None
        if target.type == "Organization":
            return identifier_value(target.resource, IDNST_SYSTEM, "IDNST")
        provided = target.resource.get("providedBy")
        return self._organization_id(provided, target.container, where)
