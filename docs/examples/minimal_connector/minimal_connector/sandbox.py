"""A simulator of Agenda Minimal for tests and demos: a real HTTP server on loopback
implementing the conformance kit's ``Upstream`` protocol."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from portal import SlotTarget

PARIS = ZoneInfo("Europe/Paris")
STEP = timedelta(minutes=20)


class MinimalSandbox:
    """Every practitioner works 08:00 to 20:00 (Paris), one 20-minute slot in three free."""

    modes = frozenset({"ok", "error", "timeout", "auth", "malformed", "gone"})

    def __init__(self, *, timeout_s: float = 0.5) -> None:
        self.timeout_s = timeout_s
        self.mode, self.latency_s = "ok", 0.0
        self.searches: list[list[str]] = []
        self.stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- the kit's Upstream protocol

    @property
    def config(self) -> dict[str, Any]:
        return {"base_url": self.url, "timeout_s": self.timeout_s}

    def targets(self, n: int) -> list[SlotTarget]:
        return [SlotTarget(f"8{10_000_000_000 + i}", source="minimal") for i in range(n)]

    def set_behaviour(self, mode: str, latency_s: float = 0.0) -> None:
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.latency_s = mode, latency_s

    def searched_ids(self) -> list[list[str]]:
        return list(self.searches)

    # -- lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> MinimalSandbox:
        self.stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # wakes the hanging requests of the "timeout" mode
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MinimalSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the agenda

    def free_slots(self, practitioner: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        found = []
        day = start.astimezone(PARIS).date()
        while day <= end.astimezone(PARIS).date():
            moment = datetime.combine(day, time(8), tzinfo=PARIS)
            while moment.hour < 20:
                slot_id = f"{practitioner}-{moment:%Y%m%d%H%M}"
                if start <= moment <= end and hashlib.sha256(slot_id.encode()).digest()[0] % 3 == 0:
                    found.append(
                        {
                            "id": slot_id,
                            "practitioner": practitioner,
                            "start": moment.isoformat(),
                            "end": (moment + STEP).isoformat(),
                            "teleconsultation": moment.minute == 40,
                        }
                    )
                moment += STEP
            day += timedelta(days=1)
        return found


def _broken(practitioner: str) -> list[Any]:
    """What the ``malformed`` mode adds: entries the connector must skip."""
    return [
        {"id": "sans-debut", "practitioner": practitioner, "end": "2030-01-01T10:00:00+01:00"},
        {"id": "heure-naive", "practitioner": practitioner, "start": "2030-01-01T10:00:00"},
        "pas un objet",
    ]


def _handler(sandbox: MinimalSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            self.answer()

        def answer(self) -> None:
            if sandbox.latency_s:
                sandbox.stopping.wait(sandbox.latency_s)
            if sandbox.mode == "timeout":
                sandbox.stopping.wait(30)
                return  # the client gave up long ago
            if sandbox.mode == "auth":
                return self.send(401, {"error": "jeton refusé"})
            url = urlsplit(self.path)
            if (self.command, url.path) == ("GET", "/slots"):
                query = parse_qs(url.query)
                ids = [i for i in query.get("practitioners", [""])[0].split(",") if i]
                sandbox.searches.append(ids)
                if sandbox.mode == "error":
                    return self.send(500, {"error": "panne simulée"})
                start, end = (datetime.fromisoformat(query[k][0]) for k in ("from", "to"))
                slots: list[Any] = [s for i in ids for s in sandbox.free_slots(i, start, end)]
                if sandbox.mode == "malformed" and ids:
                    slots += _broken(ids[0])
                return self.send(200, {"slots": slots})
            if (self.command, url.path) == ("POST", "/bookings"):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if sandbox.mode == "error":
                    return self.send(500, {"error": "panne simulée"})
                if sandbox.mode == "gone":
                    return self.send(409, {"error": "créneau déjà pris"})
                return self.send(201, {"reference": f"rdv-{body['slot']}"})
            return self.send(404, {"error": "inconnu"})

        def send(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
