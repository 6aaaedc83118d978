"""Strict parsing of the national search parameters (:func:`parse_search`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

MAX_IDS = 25
MAX_WINDOW = timedelta(days=31)


class FhirError(Exception):
    """A request the sandbox refuses: becomes a 4xx OperationOutcome."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """The parameter names of one flow's search."""

    date_param: str
    status_param: str
    id_param: str
    id_system: str
    #: parameters accepted (and ignored when unsupported) besides the three above
    accepted: frozenset[str] = frozenset(
        {"_include", "_include:iterate", "_revinclude", "_count", "_format"}
    )


@dataclass(frozen=True, slots=True)
class SearchParams:
    lower: datetime
    upper: datetime
    lower_inclusive: bool
    upper_inclusive: bool
    ids: tuple[str, ...]
    statuses: frozenset[str] | None
    include: frozenset[str]
    iterate: frozenset[str]
    revinclude: frozenset[str]

    def contains(self, start: datetime) -> bool:
        after = start >= self.lower if self.lower_inclusive else start > self.lower
        before = start <= self.upper if self.upper_inclusive else start < self.upper
        return after and before

    def wants(self, free: bool) -> bool:
        return self.statuses is None or ("free" if free else "busy") in self.statuses

    def includes(self, *names: str) -> bool:
        """Whether any of ``names`` was asked in ``_include`` or ``_include:iterate``."""
        return any(n in self.include or n in self.iterate for n in names)

    def days(self, tz: str) -> list[date]:
        zone = ZoneInfo(tz)
        first, last = self.lower.astimezone(zone).date(), self.upper.astimezone(zone).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


_SLOT_STATUSES = frozenset(
    {"free", "busy", "busy-unavailable", "busy-tentative", "entered-in-error"}
)


def _bound(param: str, raw: str) -> tuple[str, datetime]:
    """(prefix, instant) of ``ge2024-06-12T16:20:00.000+02:00``; date-only values are days."""
    prefix, value = raw[:2], raw[2:]
    if prefix not in ("ge", "gt", "le", "lt"):
        raise FhirError(f"{param}: préfixe attendu ge, gt, le ou lt (reçu {raw!r})")
    # An unencoded "+" of the offset arrives as a space.
    value = value.strip().replace(" ", "+")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if prefix in ("gt", "le"):
                day += timedelta(days=1)
            prefix = {"gt": "ge", "le": "lt"}.get(prefix, prefix)
            return prefix, datetime.combine(day, time(), tzinfo=ZoneInfo("Europe/Paris"))
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FhirError(f"{param}: date invalide {value!r}") from None
    if instant.tzinfo is None:
        raise FhirError(f"{param}: la date {value!r} doit porter un décalage horaire")
    return prefix, instant


def parse_search(query_string: str, spec: SearchSpec) -> SearchParams:
    """Parse a search query string exactly as the national guide writes it.

    Repeated date parameters carry ``ge``/``gt``/``le``/``lt`` prefixes (both bounds
    required); ids are one comma-separated ``system|value`` list (at most 25);
    unknown parameters are refused rather than silently ignored.
    """
    pairs = parse_qsl(query_string, keep_blank_values=True)
    known = {spec.date_param, spec.status_param, spec.id_param} | spec.accepted
    unknown = sorted({k for k, _ in pairs if k not in known})
    if unknown:
        raise FhirError(f"paramètre(s) non pris en charge : {', '.join(unknown)}")
    lowers: list[tuple[bool, datetime]] = []
    uppers: list[tuple[bool, datetime]] = []
    for key, value in pairs:
        if key == spec.date_param:
            prefix, instant = _bound(key, value)
            (lowers if prefix in ("ge", "gt") else uppers).append((prefix in ("ge", "le"), instant))
    if not lowers or not uppers:
        raise FhirError(f"{spec.date_param} : bornes ge… et le… obligatoires")
    lower_inclusive, lower = max(lowers, key=lambda b: (b[1], not b[0]))
    upper_inclusive, upper = min(uppers, key=lambda b: (b[1], b[0]))
    if upper < lower:
        raise FhirError(f"{spec.date_param} : fenêtre vide (fin avant début)")
    if upper - lower > MAX_WINDOW:
        raise FhirError(f"{spec.date_param} : fenêtre limitée à {MAX_WINDOW.days} jours")
    id_values = [v for k, v in pairs if k == spec.id_param]
    if not id_values:
        raise FhirError(f"{spec.id_param} obligatoire")
    if len(id_values) > 1:
        raise FhirError(
            f"{spec.id_param} : une seule occurrence, valeurs séparées par des virgules"
        )
    ids: list[str] = []
    for token in id_values[0].split(","):
        system, sep, value = token.strip().rpartition("|")
        if not value:
            raise FhirError(f"{spec.id_param} : identifiant vide dans {id_values[0]!r}")
        if sep and system and system != spec.id_system:
            raise FhirError(f"{spec.id_param} : système {system!r} inattendu ({spec.id_system})")
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_IDS:
        raise FhirError(f"{spec.id_param} : au plus {MAX_IDS} identifiants par requête")
    statuses: frozenset[str] | None = None
    status_values = [v for k, v in pairs if k == spec.status_param]
    if status_values:
        statuses = frozenset(s.strip() for v in status_values for s in v.split(","))
        if not statuses <= _SLOT_STATUSES:
            raise FhirError(f"{spec.status_param} : statut inconnu {sorted(statuses)}")

    def values(name: str) -> frozenset[str]:
        return frozenset(v for k, v in pairs if k == name)

    return SearchParams(
        lower=lower,
        upper=upper,
        lower_inclusive=lower_inclusive,
        upper_inclusive=upper_inclusive,
        ids=tuple(ids),
        statuses=statuses,
        include=values("_include"),
        iterate=values("_include:iterate"),
        revinclude=values("_revinclude"),
    )
