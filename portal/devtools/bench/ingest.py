"""How fast editors' slot Bundles are read: the tolerant reader against full FHIR models.

A realistic INT_R01 searchset Bundle, shaped like the guide's
``Bundle-ExampleBundlePSIndiv`` (Slot ``match`` → Schedule → Practitioner +
PractitionerRole with a contained Location, ``include``), is generated in memory
and parsed three ways: ``portal.fhir.read_bundle`` (what ingestion uses),
``fhir.resources.R4B`` ``Bundle.model_validate_json`` (full model validation)
and plain ``json.loads`` (the floor, no reading at all).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portal.fhir import read_bundle

SLOTS_PER_DAY = 30
DAYS = 3
#: The figure a typical national batch answer holds: 25 PS × 3 days × 30 slots.
BATCH_SLOTS = 25 * DAYS * SLOTS_PER_DAY
FIRST_DAY = date(2026, 11, 25)  # a Wednesday
BASE = "https://editeur.exemple.fr/fhir"

_SAS = "http://sas.fr/fhir/StructureDefinition/"
_R314 = "https://mos.esante.gouv.fr/NOS/TRE_R314-TypeCreneau/FHIR/TRE-R314-TypeCreneau"
_R38 = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_APPT = "http://terminology.hl7.org/CodeSystem/v2-0276"
_ID_TYPE = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
_KINDS = (("PUBLIC",), ("PUBLIC", "PRO"), ("SNP",), ("PRO", "SNP"), ("PUBLIC", "PRO", "SNP"))
_MODALITIES = (("AMB",), ("AMB",), ("AMB", "VR"), ("VR",), ("HH",))
_REASONS = ("Visite de contrôle", "Consultation non programmée", "Renouvellement d'ordonnance")
_PARIS = ZoneInfo("Europe/Paris")


def luhn_key(digits: str) -> str:
    """The Luhn check digit to append to ``digits`` (RPPS numbers carry one)."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn_key(body)


def finess(n: int) -> str:
    """A Lot-et-Garonne FINESS number (9 digits, Luhn key last)."""
    body = f"47{n % 10**6:06d}"
    return body + luhn_key(body)


def _times() -> list[tuple[int, int]]:
    """30 quarter-hours a day: 16 in the morning from 08:00, 14 in the afternoon from 14:00."""
    morning = [(8 + q // 4, 15 * (q % 4)) for q in range(16)]
    afternoon = [(14 + q // 4, 15 * (q % 4)) for q in range(14)]
    return morning + afternoon


def _entry(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{BASE}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def _slot(national_id: str, start: datetime, n: int) -> dict[str, Any]:
    slot_id = f"{national_id}-{start:%Y%m%d%H%M}"
    walk_in = n % 10 == 9
    service_type: list[dict[str, Any]] = [
        {"coding": [{"system": _ACT, "code": code}]} for code in _MODALITIES[n % 5]
    ]
    if n % 4 == 0:
        service_type.append({"text": _REASONS[n % 3]})
    resource: dict[str, Any] = {
        "resourceType": "Slot",
        "id": slot_id,
        "meta": {
            "profile": [_SAS + "FrSlotAgregateur"],
            "security": [{"system": _R314, "code": code} for code in _KINDS[n % 5]],
        },
        "serviceType": service_type,
        "specialty": [{"coding": [{"system": _R38, "code": "SM54"}]}],
        "appointmentType": {
            "coding": [{"system": _APPT, "code": "WALKIN" if walk_in else "ROUTINE"}]
        },
        "schedule": {"reference": f"Schedule/sched-{national_id}"},
        "status": "free",
        "start": start.isoformat(timespec="milliseconds"),
        "end": (start + timedelta(minutes=15)).isoformat(timespec="milliseconds"),
        "comment": f"https://editeur.exemple.fr/rdv/{slot_id}",  # the national kit wants one
    }
    return _entry(resource, "match")


def _includes(national_id: str, n: int) -> list[dict[str, Any]]:
    identifier = {
        "type": {"coding": [{"system": _ID_TYPE, "code": "IDNPS"}]},
        "system": "urn:oid:1.2.250.1.71.4.2.1",
        "value": national_id,
    }
    schedule = {
        "resourceType": "Schedule",
        "id": f"sched-{national_id}",
        "meta": {"profile": [_SAS + "FrScheduleAgregateur"]},
        "actor": [
            {"reference": f"Practitioner/{national_id}"},
            {"reference": f"PractitionerRole/role-{national_id}"},
        ],
    }
    practitioner = {
        "resourceType": "Practitioner",
        "id": national_id,
        "meta": {"profile": [_SAS + "FrPractitionerAgregateur"]},
        "identifier": [identifier],
        "name": [{"family": f"NOM{n}", "given": ["Camille"]}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": f"role-{national_id}",
        "meta": {"profile": [_SAS + "FrPractitionerRoleExerciceAgregateur"]},
        "contained": [
            {
                "resourceType": "Location",
                "id": "lieu",
                "meta": {"profile": [_SAS + "FrLocationAgregateur"]},
                "address": {
                    "line": [f"{n % 120 + 1} rue des Tilleuls"],
                    "city": "AGEN",
                    "postalCode": "47000",
                },
            }
        ],
        "practitioner": {"reference": f"Practitioner/{national_id}"},
        "organization": {
            "identifier": {
                "type": {"coding": [{"system": _ID_TYPE, "code": "IDNST"}]},
                "system": "urn:oid:1.2.250.1.71.4.2.2",
                "value": "1" + finess(n),
            }
        },
        "location": [{"reference": "#lieu"}],
    }
    return [_entry(schedule, "include"), _entry(practitioner, "include"), _entry(role, "include")]


def generate_bundle(slots: int) -> bytes:
    """An INT_R01 searchset of ``slots`` free slots: 30 a day over 3 days per practitioner."""
    per_ps = DAYS * SLOTS_PER_DAY
    times = _times()
    entries: list[dict[str, Any]] = []
    made = 0
    for p in range((slots + per_ps - 1) // per_ps):
        national_id = "8" + rpps(p)
        for k in range(min(per_ps, slots - made)):
            day = FIRST_DAY + timedelta(days=k // SLOTS_PER_DAY)
            hour, minute = times[k % SLOTS_PER_DAY]
            start = datetime(day.year, day.month, day.day, hour, minute, tzinfo=_PARIS)
            entries.append(_slot(national_id, start, made))
            made += 1
        entries.extend(_includes(national_id, p))
    bundle = {
        "resourceType": "Bundle",
        "id": f"bench-{slots}",
        "meta": {"profile": [_SAS + "BundleAgregateur"]},
        "type": "searchset",
        "total": slots,
        "link": [{"relation": "self", "url": f"{BASE}/Slot?_include=Slot:schedule&status=free"}],
        "entry": entries,
    }
    return json.dumps(bundle, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Timing:
    """Repeated timings of one way of parsing one Bundle."""

    label: str
    slots: int
    seconds: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def slots_per_s(self) -> float:
        """Throughput of the best run."""
        return self.slots / self.best


@dataclass(frozen=True, slots=True)
class IngestResult:
    slots: int
    size_bytes: int
    reader: Timing
    models: Timing
    json: Timing

    @property
    def ratio(self) -> float:
        """How many times faster the tolerant reader is than full model parsing (best runs)."""
        return self.models.best / self.reader.best


def _time(function: Callable[[], Any], repeat: int) -> Iterator[float]:
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        yield time.perf_counter() - began


def measure(slots: int, *, repeat: int = 3) -> IngestResult:
    """Generate a Bundle of ``slots`` slots and time the three parsers ``repeat`` times each."""
    from fhir.resources.R4B.bundle import Bundle  # slow to import: only when measuring

    data = generate_bundle(slots)
    read = read_bundle(data, source="bench", flow="ps")
    if len(read.slots) != slots or read.warnings:
        raise RuntimeError(
            f"generated Bundle misread: {len(read.slots)} slots, {read.warnings[:3]}"
        )
    Bundle.model_validate_json(data)  # warm-up (model building), and proof the Bundle is valid R4B

    def reader() -> None:
        read_bundle(data, source="bench", flow="ps")

    def models() -> None:
        Bundle.model_validate_json(data)

    def floor() -> None:
        json.loads(data)

    return IngestResult(
        slots=slots,
        size_bytes=len(data),
        reader=Timing("portal.fhir.read_bundle", slots, tuple(_time(reader, repeat))),
        models=Timing("fhir.resources R4B Bundle", slots, tuple(_time(models, repeat))),
        json=Timing("json.loads", slots, tuple(_time(floor, repeat))),
    )
