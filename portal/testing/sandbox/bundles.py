"""How a sandbox server answers FHIR searches: cached resource JSON, Bundle entries,
searchset Bundles, the ``malformed`` mode's broken entries, ``/fhir/metadata``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from werkzeug.wrappers import Response

from portal.testing.sandbox.agenda import AgendaSlot
from portal.testing.sandbox.resources import FHIR_JSON, entry_json, fhir_response, resource_json
from portal.testing.sandbox.search import SearchParams


class BundleAnswers:
    """The FHIR answers of a sandbox server (a mixin of :class:`SandboxServer`)."""

    label: str
    resource_types: tuple[str, ...]
    _json: dict[str, str]

    @property
    def base_url(self) -> str:
        """The server root (defined by :class:`SandboxServer`)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The FHIR base (defined by :class:`SandboxServer`)."""
        raise NotImplementedError

    def cached(self, cache_key: str, build: Callable[[], str]) -> str:
        text = self._json.get(cache_key)
        if text is None:
            if len(self._json) > 200_000:
                self._json.clear()
            text = self._json[cache_key] = build()
        return text

    def entry(
        self, resource_type: str, resource_id: str, mode: str, build: Callable[..., str], *args: Any
    ) -> str:
        """A cached Bundle entry (absolute fullUrl, search mode) around ``build(*args)``."""
        full_url = f"{self.url}/{resource_type}/{resource_id}"
        cache_key = f"{full_url}|{mode}"
        text = self._json.get(cache_key)
        if text is None:
            text = self.cached(cache_key, lambda: entry_json(full_url, build(*args), mode))
        return text

    def booking_url(self, slot: AgendaSlot) -> str | None:
        """``Slot.comment``: the editor's booking page (none for walk-in slots)."""
        return None if slot.walk_in else f"{self.base_url}/rdv/{slot.id}"

    def searchset(
        self, path: str, query_string: str, profile: str | None, total: int, entries: list[str]
    ) -> Response:
        """A searchset Bundle around pre-serialised entries (deterministic for a query)."""
        relative = path + (f"?{query_string}" if query_string else "")
        data: dict[str, Any] = {
            "resourceType": "Bundle",
            "id": hashlib.sha256(relative.encode()).hexdigest()[:32],
            "type": "searchset",
            "total": total,
            "link": [{"relation": "self", "url": f"{self.url}/{relative}"}],
        }
        if profile:
            data["meta"] = {"profile": [profile]}
        header = resource_json(Bundle, data)
        if entries:
            header = header[:-1] + ',"entry":[' + ",".join(entries) + "]}"
        return fhir_response(header.encode())

    def broken_entries(self, params: SearchParams, entries: list[str], mode: str) -> list[str]:
        """``malformed`` mode: copies of the first good Slot, each with one defect —
        no ``start``, a dangling ``schedule``, an unknown element."""
        template = next(
            (json.loads(e)["resource"] for e in entries if '"resourceType":"Slot"' in e[:300]), None
        )
        if template is None:
            start = params.lower if params.lower_inclusive else params.lower + timedelta(minutes=1)
            template = {
                "resourceType": "Slot",
                "schedule": {"reference": "Schedule/inexistant"},
                "status": "free",
                "start": start.isoformat(timespec="milliseconds"),
                "end": (start + timedelta(minutes=15)).isoformat(timespec="milliseconds"),
            }
        broken = [
            {k: v for k, v in template.items() if k != "start"} | {"id": "casse-sans-debut"},
            template | {"id": "casse-reference", "schedule": {"reference": "Schedule/inexistant"}},
            template | {"id": "casse-element", "couleur": "rouge"},
        ]
        return [
            entry_json(f"{self.url}/Slot/{b['id']}", json.dumps(b, ensure_ascii=False), mode)
            for b in broken
        ]

    def _capability_statement(self) -> str:
        rest = [{"type": t, "interaction": [{"code": "search-type"}]} for t in self.resource_types]
        return self.cached(
            "metadata",
            lambda: resource_json(
                CapabilityStatement,
                {
                    "resourceType": "CapabilityStatement",
                    "status": "active",
                    "date": "2026-01-01",
                    "kind": "instance",
                    "software": {"name": f"sas-portal {self.label}"},
                    "implementation": {"description": self.label, "url": self.url},
                    "fhirVersion": "4.0.1",
                    "format": [FHIR_JSON],
                    "rest": [{"mode": "server", "resource": rest}],
                },
            ),
        )
