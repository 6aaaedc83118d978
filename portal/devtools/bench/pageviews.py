"""What page views cost the editors, and what a stalled editor costs the web workers.

Both run on the fan-out bench's sandbox editors (``fanout.editors``: one process each,
on loopback), which count the requests they serve (``/_sandbox/requests``).

- :func:`page_views`: ``views`` regulators open the same results page at once — as
  many threads run the live refresh of its cards (``portal.search.live.refresh_cards``,
  what ``/recherche/creneaux`` runs) — then as many again within the freshness
  threshold, then one after the other with the threshold off (``SLOT_MIN_AGE_S=0``).
  Target: one upstream request per (source, batch of 25) per threshold.
- :func:`serve`: a real WSGI server with a pool of ``threads`` threads (what one
  gunicorn ``gthread`` worker with ``--threads 2`` gives) serves ``/recherche/creneaux``
  for random pages of cards to ``clients`` concurrent clients; searches per second
  with every editor answering, then with one stalled (it never answers).
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import delete, select
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

from portal import db, migrate
from portal.devtools.bench import fanout
from portal.domain import MAX_IDS_PER_REQUEST
from portal.models import Practitioner, SlotFetch, SlotFlight, User, UserRole
from portal.search import live
from portal.web import plugins as app_plugins

Say = Callable[[str], None]


@dataclass(slots=True)
class PageViews:
    views: int
    page_size: int
    editors: int
    expected: int  # (source, batch) pairs of the page: the target per threshold
    at_once: int = 0  # upstream requests of the first ``views`` simultaneous views
    at_once_s: list[float] = field(default_factory=list)
    again: int = 0  # upstream requests of ``views`` more views within the threshold
    no_threshold: int = 0  # ``views`` views one after the other, SLOT_MIN_AGE_S=0


def _served(started: list[fanout.Editor]) -> int:
    """FHIR requests the editors served since their last reset (metadata aside)."""
    total = 0
    for editor in started:
        answer = httpx.get(editor.url.removesuffix("/fhir") + "/_sandbox/requests", timeout=5)
        total += sum(1 for _, path, _ in answer.json() if not path.endswith("/metadata"))
    return total


def _reset(started: list[fanout.Editor], latency_s: float) -> None:
    for editor in started:
        base = editor.url.removesuffix("/fhir")
        httpx.post(base + "/_sandbox/reset", timeout=5).raise_for_status()
        editor.behave("ok", latency_s)


def _forget_fetches() -> None:
    """Every target stale again: the next phase starts from the same cold state."""
    session = db.session()
    session.execute(delete(SlotFlight))
    session.execute(delete(SlotFetch))
    session.commit()


def _view(app: Flask, ids: list[str], config: dict[str, Any]) -> float:
    with app.app_context():
        began = time.perf_counter()
        live.refresh_cards(db.session(), app_plugins.manager(), ids, config)
        return time.perf_counter() - began


@contextmanager
def _scratch(editor_count: int, latency_s: float, practitioners: int) -> Iterator[Any]:
    with (
        fanout._quiet("portal.slots.aggregation"),
        fanout._quiet("portal.slots.background"),
        tempfile.TemporaryDirectory(prefix="sas-bench-") as scratch,
        fanout.editors(editor_count, latency_s) as started,
    ):
        app = fanout._scratch_app(Path(scratch), started, 7.0)
        with app.app_context():
            migrate.upgrade(db.engine())
            fanout._bind(practitioners, [e.name for e in started])
            ids = list(db.session().scalars(select(Practitioner.national_id)))
        try:
            yield app, started, ids
        finally:
            with app.app_context():
                db.engine().dispose()


def page_views(
    *, views: int = 20, editor_count: int = 4, page_size: int = 20, latency_s: float = 0.2,
    progress: Say | None = None,
) -> PageViews:  # fmt: skip
    """Upstream requests made by ``views`` identical page views (see the module)."""
    say = progress or (lambda _: None)
    with _scratch(editor_count, latency_s, page_size) as (app, started, ids):
        per_source = -(-page_size // editor_count)  # round-robin binding
        expected = editor_count * -(-per_source // MAX_IDS_PER_REQUEST)
        result = PageViews(views, page_size, editor_count, expected)
        config = dict(app.config)
        say("chauffe (connexions, modèles)…")
        _view(app, ids, {**config, "SLOT_MIN_AGE_S": 0})
        with app.app_context():
            _forget_fetches()
        _reset(started, latency_s)
        say(f"{views} vues simultanées de la même page…")
        barrier = threading.Barrier(views)

        def together() -> float:
            barrier.wait()
            return _view(app, ids, config)

        with ThreadPoolExecutor(views) as pool:
            result.at_once_s = list(pool.map(lambda _: together(), range(views)))
        result.at_once = _served(started)
        say(f"{views} vues de plus, sous le seuil de fraîcheur…")
        for _ in range(views):
            _view(app, ids, config)
        result.again = _served(started) - result.at_once
        say(f"{views} vues l'une après l'autre, sans seuil (SLOT_MIN_AGE_S=0)…")
        _reset(started, latency_s)
        for _ in range(views):
            _view(app, ids, {**config, "SLOT_MIN_AGE_S": 0})
        result.no_threshold = _served(started)
    return result


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class PooledServer(BaseWSGIServer):
    """A WSGI server whose requests are served by a fixed pool of threads, like one
    gunicorn ``gthread`` worker (werkzeug's threaded server starts a thread each)."""

    def __init__(self, app: Flask, threads: int) -> None:
        super().__init__("127.0.0.1", 0, app, handler=_QuietHandler)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="bench-worker")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


@dataclass(slots=True)
class Phase:
    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    pending: int = 0  # answers that said "réponse attendue" (a source still asked)
    errors: int = 0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


def _cookie(app: Flask) -> str:
    """A regulator's signed session cookie (``name=value``)."""
    with app.app_context():
        session = db.session()
        user = User(email="regulateur@bench.test", family_name="Bench", given_name="Régulateur")
        user.roles.append(UserRole(role="regulateur"))
        session.add(user)
        session.commit()
        now = time.time()
        value = app.session_interface.get_signing_serializer(app).dumps(  # type: ignore[attr-defined]
            {"uid": user.id, "auth_method": "local", "login_at": now, "seen_at": now,
             "_permanent": True}
        )  # fmt: skip
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _load(base: str, cookie: str, ids: list[str], phase: Phase, clients: int, page: int) -> None:
    ends = time.monotonic() + phase.seconds
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, headers={"Cookie": cookie}, timeout=30) as http:
            while time.monotonic() < ends:
                picked = ",".join(rng.sample(ids, page))
                began = time.perf_counter()
                try:
                    answer = http.get("/recherche/creneaux", params={"ids": picked})
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                took = time.perf_counter() - began
                with lock:
                    if not ok:
                        phase.errors += 1
                    elif time.monotonic() <= ends:
                        phase.latencies.append(took)
                        phase.pending += "réponse attendue" in answer.text

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))


def serve(
    *, editor_count: int = 4, practitioners: int = 100, page_size: int = 20, clients: int = 8,
    seconds: float = 15.0, threads: int = 2, latency_s: float = 0.2, progress: Say | None = None,
) -> list[Phase]:  # fmt: skip
    """Searches per second served by ``threads`` threads, without then with a stall."""
    say = progress or (lambda _: None)
    phases = [Phase("tous les éditeurs répondent", seconds), Phase("un éditeur bloqué", seconds)]
    with _scratch(editor_count, latency_s, practitioners) as (app, started, ids):
        cookie = _cookie(app)
        server = PooledServer(app, threads)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            say("chauffe…")
            _load(base, cookie, ids, Phase("chauffe", 2.0), clients, page_size)
            for phase, stalled in zip(phases, (False, True), strict=True):
                with app.app_context():
                    _forget_fetches()
                _reset(started, latency_s)
                if stalled:
                    started[-1].behave("timeout", 0.0)
                say(f"{phase.label} : {clients} clients pendant {seconds:g} s…")
                _load(base, cookie, ids, phase, clients, page_size)
        finally:
            server.shutdown()
            server.server_close()
            server.pool.shutdown(wait=False, cancel_futures=True)
            thread.join(5)
    return phases
