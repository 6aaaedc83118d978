"""LRM contextual links (INT_L01): a call-handling software opens a prefilled search.

``GET /recherche?origin=…&practitioner=…&specialty=…&inseecode=…&city=…&streetname=…
&streetnumber=…``. :func:`parse_lrm_link` checks the origin against the allow-list
(:class:`~portal.models.LrmOrigin`), reads what it can of the other parameters into a
:class:`~portal.search.service.SearchRequest` with French notices for what it could
not, and logs the hit (:class:`~portal.models.LrmHit`) with how each parameter was
given: never its value, which describes a patient. A bad link never raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import audit
from portal.identifiers import IDNPS_SYSTEM
from portal.models import LrmHit, LrmOrigin, utcnow
from portal.reference import geo
from portal.reference import terminology as reference
from portal.search.service import SearchRequest

__all__ = [
    "ABSENT",
    "DEFAULT_SPECIALTY",
    "FREE_TEXT",
    "INVALID",
    "NORMED",
    "PARAMETERS",
    "PARAM_STATUSES",
    "LrmContext",
    "is_lrm_link",
    "parse_lrm_link",
]

NORMED: Final = "normé"
FREE_TEXT: Final = "texte libre"
ABSENT: Final = "absent"
INVALID: Final = "invalide"
PARAM_STATUSES: Final = (NORMED, FREE_TEXT, ABSENT, INVALID)

#: the INT_L01 parameters whose form is logged (``origin`` has its own column)
PARAMETERS: Final = ("practitioner", "specialty", "inseecode", "city", "streetname", "streetnumber")

SPECIALTY_SYSTEM: Final = "urn:oid:1.2.250.1.213.2.28"
DEFAULT_SPECIALTY: Final = "SM54"  # médecine générale
PHYSICIAN: Final = "10"  # TRE_G15 "Médecin": a physician is searched by specialty

REFUSED: Final = "Ce lien LRM est désactivé ou inconnu : contactez le support du portail SAS."
TREATING_UNKNOWN: Final = (
    "Médecin traitant non identifié (format non reconnu) : la recherche continue sans lui."
)
ADDRESS_UNRESOLVED: Final = "Adresse du patient non résolue : précisez la commune."
SPECIALTY_UNKNOWN: Final = (
    "Spécialité « {} » non reconnue : la recherche porte sur la médecine générale ; "
    "choisissez une autre spécialité ou profession si besoin."
)
PROFESSION_READ: Final = "« {} » lu comme la profession « {} » : recherche de cette profession."

_RPPS_ID = re.compile(r"8\d{11}")
_MAX_VALUE = 200  # longer values are cut: nobody types more in an LRM field
# What LRMs commonly send for general practice, beyond the R38 labels.
_SPECIALTY_SYNONYMS: Final = {
    "mg": "SM54",
    "generaliste": "SM54",
    "medecin generaliste": "SM54",
    "medecin traitant": "SM54",
}


# Profession codes and words LRMs send in ``specialty`` (folded) -> TRE_G15 code.
_PROFESSION_SYNONYMS: Final = {
    "inf": "60",
    "ide": "60",
    "infirmier": "60",
    "infirmiere": "60",
    "kine": "70",
    "mk": "70",
    "kinesitherapeute": "70",
    "sf": "50",
    "sage femme": "50",
    "dent": "40",
    "dentiste": "40",
    "chirurgien dentiste": "40",
    "pharm": "21",
    "pharmacie": "21",
    "pharmacien": "21",
    "pod": "80",
    "podologue": "80",
    "orthophoniste": "91",
    "psychologue": "93",
}


@dataclass(frozen=True, slots=True)
class LrmContext:
    """What an LRM link asks: the prefilled search, notices, or why it is refused."""

    request: SearchRequest | None  # None when the origin is refused
    notices: list[str] = field(default_factory=list)
    refused: str | None = None
    params: dict[str, str] = field(default_factory=dict)  # parameter -> status, as logged


def is_lrm_link(args: Mapping[str, str]) -> bool:
    """True when the query string is an INT_L01 link (``origin`` present, even empty)."""
    return "origin" in args


def parse_lrm_link(
    session: Session,
    args: Mapping[str, str],
    *,
    actor: str | None,
    street_level: bool = False,
    now: datetime | None = None,
) -> LrmContext:
    """Read an INT_L01 link into a search, log the hit (committed) and say what was not read.

    :param args: the query string (``request.args``).
    :param actor: the user id as a string (audit convention), or None.
    :param street_level: whether a geocoder is configured (``GEOCODER_URL``), so that the
        address goes to the search as text.
    :returns: a context whose ``request`` is None (and ``refused`` the French message)
        when the origin is unknown or disabled.
    """
    origin = _value(args, "origin")[:64]
    allowed = bool(origin) and session.scalar(
        select(LrmOrigin.enabled).where(LrmOrigin.code == origin)
    )
    notices: list[str] = []
    params: dict[str, str] = {}
    treating, params["practitioner"] = _practitioner(_value(args, "practitioner"), notices)
    specialty, profession, params["specialty"] = _specialty(_value(args, "specialty"), notices)
    where, insee = _address(args, params, street_level, notices)
    if not allowed:
        _log(session, origin, False, params, actor, now)
        audit.record(session, "lrm_refused", actor=actor, target=origin or None)
        session.commit()
        return LrmContext(None, [], REFUSED, params)
    request = SearchRequest(
        where=where,
        insee=insee,
        specialty=specialty,
        profession=profession,
        treating=treating,
        origin=origin,
    )
    _log(session, origin, True, params, actor, now)
    session.commit()
    return LrmContext(request, notices, None, params)


def _value(args: Mapping[str, str], name: str) -> str:
    return " ".join(str(args.get(name) or "").split())[:_MAX_VALUE]


def _log(
    session: Session,
    origin: str,
    accepted: bool,
    params: dict[str, str],
    actor: str | None,
    now: datetime | None,
) -> None:
    user_id = int(actor) if actor and actor.isdigit() else None
    session.add(
        LrmHit(at=now or utcnow(), origin=origin, accepted=accepted, params=params, user_id=user_id)
    )


def _practitioner(value: str, notices: list[str]) -> tuple[str, str]:
    """``(treating national id, status)``: only ``urn:oid:1.2.250.1.71.4.2.1|8<RPPS>`` counts."""
    if not value:
        return "", ABSENT
    system, _, identifier = value.partition("|")
    if system.strip() == IDNPS_SYSTEM and _RPPS_ID.fullmatch(identifier.strip()):
        return identifier.strip(), NORMED
    notices.append(TREATING_UNKNOWN)
    # a coded form that is wrong is invalid; a bare RPPS, an ADELI or a name is free text
    return "", INVALID if value.lower().startswith("urn:") or "|" in value else FREE_TEXT


def _specialty(value: str, notices: list[str]) -> tuple[str, str, str]:
    """``(R38 code, G15 profession, status)``; absent → general medicine.

    LRMs send profession codes under the R38 OID (the national simulator: ``INF``):
    a known one searches that profession. A value read as nothing known falls back to
    general medicine with a notice, never to every specialty.
    """
    if not value:
        return DEFAULT_SPECIALTY, "", ABSENT
    system, bar, code = value.partition("|")
    coded = bool(bar) and system.strip().lower().startswith("urn:")
    if coded:
        code = code.strip().upper()
        if system.strip() == SPECIALTY_SYSTEM and code in reference.specialties():
            return code, "", NORMED
    profession = _match_profession(code if coded else value)
    if profession:
        notices.append(PROFESSION_READ.format(value, reference.profession_label(profession)))
        return "", profession, FREE_TEXT if not coded else INVALID
    matched = None if coded else _match_specialty(value)
    if matched:
        return matched, "", FREE_TEXT
    notices.append(SPECIALTY_UNKNOWN.format(value))
    return DEFAULT_SPECIALTY, "", INVALID if coded else FREE_TEXT


def _match_profession(text: str) -> str | None:
    """The G15 profession (other than physician) an LRM value names, or None."""
    query = geo.normalize_name(text)
    if query in _PROFESSION_SYNONYMS:
        return _PROFESSION_SYNONYMS[query]
    for code, label in reference.professions().items():
        if code != PHYSICIAN and query in (code, geo.normalize_name(label)):
            return code
    return None


def _match_specialty(text: str) -> str | None:
    """The R38 code a free text names unambiguously (accents and case aside), or None."""
    query = geo.normalize_name(text)
    if query in _SPECIALTY_SYNONYMS:
        return _SPECIALTY_SYNONYMS[query]
    found = reference.search_specialties(text, limit=50)
    for code, _ in found:
        if code.lower() == query or geo.normalize_name(reference.display_specialty(code)) == query:
            return code
    starting = [code for code, label in found if geo.normalize_name(label).startswith(query)]
    doctors = [code for code in starting if code.startswith("SM")]
    for candidates in (doctors, starting):
        if len(candidates) == 1:
            return candidates[0]
    return None


def _address(
    args: Mapping[str, str], params: dict[str, str], street_level: bool, notices: list[str]
) -> tuple[str, str]:
    """``(where text, city INSEE code)``; sets the statuses of the four address parameters.

    A resolved commune gives its city's code (``75112`` → ``75056``) and ``"Paris (75012)"``;
    with a geocoder and a street, the where text is the address and the code is empty.
    """
    index = geo.get_index()
    commune: geo.Commune | None = None
    code, city = _value(args, "inseecode"), _value(args, "city")
    params["inseecode"] = ABSENT
    if code:
        commune = index.by_insee(code) if re.fullmatch(r"\d{5}|2[AB]\d{3}", code.upper()) else None
        params["inseecode"] = NORMED if commune else INVALID
    params["city"] = ABSENT
    if city:
        by_name = index.resolve(city)
        params["city"] = NORMED if by_name else FREE_TEXT
        commune = commune or by_name
    number, params["streetnumber"] = _street_number(_value(args, "streetnumber"))
    street = _value(args, "streetname")
    params["streetname"] = FREE_TEXT if street else ABSENT
    if commune is None:
        notices.append(ADDRESS_UNRESOLVED)
        return city, ""
    # the city of an arrondissement, with the arrondissement's postcode: "Paris (75012)"
    town = index.by_insee(commune.city_code) or commune
    postcode = commune.postal_codes[0] if commune.postal_codes else ""
    if street_level and street:
        # The search geocodes ``where`` only without ``insee`` (which would win), and falls
        # back to the commune read from the text's "<postcode> <city>" tail.
        line = street if not number or street.startswith(number) else f"{number} {street}"
        return " ".join(filter(None, (line, postcode, town.name))), ""
    return (f"{town.name} ({postcode})" if postcode else town.name), commune.city_code


def _street_number(value: str) -> tuple[str, str]:
    """Digits only (``"12 bis"`` → ``"12"``) and the status of the parameter."""
    if not value:
        return "", ABSENT
    digits = "".join(ch for ch in value if ch.isdigit())
    if not digits:
        return "", INVALID
    return digits, NORMED if digits == value else FREE_TEXT
