"""A tiny bulk publisher (SMART Scheduling Links style) and its connector — the worked
example of ``docs/connectors.md``, "A bulk publication".

- :class:`BulkSandbox`: a :class:`~portal.testing.sandbox.SimulatorServer` serving a
  manifest (``/$bulk-publish``) and two NDJSON files (``Schedule``, ``Slot``); the
  ``malformed`` mode adds broken lines to the Slot file.
- :class:`BulkUpstream`: the :class:`~portal.testing.conformance.Upstream` the kit drives.
- ``connector``: ``connector_info`` + ``fetch_source_slots`` with httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
from werkzeug.wrappers import Request, Response

from portal import ConnectorInfo, Slot, SlotTarget, hookimpl
from portal.errors import AuthError, ConnectorTimeout, MalformedResponse, Unavailable
from portal.identifiers import IDNPS_SYSTEM
from portal.testing import slot_window
from portal.testing.sandbox import Behaviour, SimulatorServer, json_response

NAME = "smart_bulk"


def national_id(i: int) -> str:
    return f"8{20_000_000_000 + i}"


class BulkSandbox(SimulatorServer):
    """``people`` practitioners, each with free slots every 2 h over the next three days."""

    label = "Publication en masse (simulation)"

    def __init__(self, people: int = 80, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.people = people
        self.origin = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    def handle(self, request: Request, *, malformed: bool) -> Response | None:
        if request.path == "/$bulk-publish":
            base = self.base_url
            return json_response({
                "transactionTime": self.origin.isoformat(),
                "request": f"{base}/$bulk-publish",
                "output": [
                    {"type": "Schedule", "url": f"{base}/data/schedules.ndjson"},
                    {"type": "Slot", "url": f"{base}/data/slots.ndjson"},
                ],
                "error": [],
            })  # fmt: skip
        if request.path == "/data/schedules.ndjson":
            return _ndjson(self._schedule(i) for i in range(self.people))
        if request.path == "/data/slots.ndjson":
            lines = [json.dumps(s) for i in range(self.people) for s in self._slots(i)]
            if malformed:
                lines[1:1] = ["{pas du json", json.dumps({"resourceType": "Slot", "id": "x"})]
            return Response("\n".join(lines) + "\n", mimetype="application/fhir+ndjson")
        return None

    def _schedule(self, i: int) -> dict[str, Any]:
        actor = {"identifier": {"system": IDNPS_SYSTEM, "value": national_id(i)}}
        return {"resourceType": "Schedule", "id": f"s{i}", "actor": [actor]}

    def _slots(self, i: int) -> Iterator[dict[str, Any]]:
        for step in range(1, 36):
            start = self.origin + timedelta(hours=2 * step, minutes=i % 60)
            yield {
                "resourceType": "Slot", "id": f"s{i}-{step}",
                "schedule": {"reference": f"Schedule/s{i}"}, "status": "free",
                "start": start.isoformat(), "end": (start + timedelta(minutes=15)).isoformat(),
            }  # fmt: skip


def _ndjson(resources: Iterator[dict[str, Any]]) -> Response:
    body = "".join(json.dumps(r) + "\n" for r in resources)
    return Response(body, mimetype="application/fhir+ndjson")


class BulkUpstream:
    """What the conformance kit drives: ``searched_ids()`` has one entry per manifest read."""

    modes = frozenset({"ok", "error", "timeout", "auth", "malformed"})
    timeout_s = 0.5

    def __init__(self, server: BulkSandbox) -> None:
        self.server = server

    @property
    def config(self) -> Mapping[str, Any]:
        return {"manifest_url": f"{self.server.base_url}/$bulk-publish", "timeout_s": 0.5}

    def targets(self, n: int) -> list[SlotTarget]:
        assert n <= self.server.people, f"the sandbox publishes {self.server.people} people"
        return [SlotTarget(national_id(i), source=NAME) for i in range(n)]

    def set_behaviour(self, mode: str, latency_s: float = 0.0) -> None:
        self.server.behaviour = Behaviour(mode=mode, latency_s=latency_s)  # type: ignore[arg-type]

    def searched_ids(self) -> list[list[str]]:
        return [[] for _, path, _ in list(self.server.requests) if path == "/$bulk-publish"]


# -- the connector -----------------------------------------------------------------------


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        response = client.get(url)
    except httpx.TimeoutException as exc:
        raise ConnectorTimeout(f"{NAME} : pas de réponse de {url}") from exc
    except httpx.HTTPError as exc:
        raise Unavailable(f"{NAME} : {url} injoignable") from exc
    if response.status_code in (401, 403):
        raise AuthError(f"{NAME} : accès refusé ({response.status_code})")
    if response.status_code >= 500:
        raise Unavailable(
            f"{NAME} : erreur {response.status_code}", diagnostics=response.text[:200]
        )
    return response


def _lines(client: httpx.Client, url: str) -> Iterator[dict[str, Any]]:
    for line in _get(client, url).text.splitlines():
        try:
            yield json.loads(line)
        except ValueError:
            continue  # a broken line never costs the others


def fetch_source_slots(
    source: str, start: datetime, end: datetime, config: Mapping[str, Any]
) -> list[Slot] | None:
    if source != NAME:
        return None
    with httpx.Client(timeout=float(config.get("timeout_s", 5.0))) as client:
        try:
            files = {
                o["type"]: o["url"] for o in _get(client, config["manifest_url"]).json()["output"]
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResponse(f"{NAME} : manifeste illisible") from exc
        who = {
            f"Schedule/{s['id']}": s["actor"][0]["identifier"]["value"]
            for s in _lines(client, files["Schedule"])
        }
        slots = []
        for raw in _lines(client, files["Slot"]):
            try:
                begins, ends = (datetime.fromisoformat(raw[k]) for k in ("start", "end"))
                practitioner = who[raw["schedule"]["reference"]]
                slot = Slot(NAME, raw["id"], begins, ends, practitioner=practitioner)
            except (KeyError, ValueError, TypeError):
                continue
            if raw.get("status") == "free" and start <= slot.start <= end:
                slots.append(slot)
    return slots


connector = SimpleNamespace(
    connector_info=hookimpl(
        lambda: ConnectorInfo(name=NAME, label="Publication SMART (exemple)", kind="editor")
    ),
    fetch_source_slots=hookimpl(fetch_source_slots),
)
window = slot_window
