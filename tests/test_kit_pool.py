"""The pooled connector toolkit: one client per endpoint per process, opened by the
connectors' ``startup`` hook and closed by ``shutdown``; configuration sections checked
at load (``check_config``). Against the editor sandbox on loopback."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import connectors.cpts
import connectors.doctolib_like
import connectors.sos_medecins
import portal.kit
from connectors.doctolib_like import client as doctolib_client
from connectors.doctolib_like.sandbox import make_sandbox
from portal import lifecycle
from portal.domain import SlotQuery, slot_window
from portal.kit import ClientPool, Endpoint, check_section, fetch_window
from portal.plugins import call_each, make_plugin_manager
from portal.testing.conformance import SandboxUpstream

SOURCE = "doctolib_like:editeur-a"


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every TCP connection opened (httpcore's sync backend uses ``create_connection``)."""
    opened: list[tuple[str, int]] = []
    real = socket.create_connection

    def counting(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    return opened


@pytest.fixture
def editor() -> Iterator[SandboxUpstream]:
    with make_sandbox(seed=3) as server:
        yield SandboxUpstream(server, SOURCE, timeout_s=10)


@pytest.fixture
def pool_closed() -> Iterator[None]:
    """The connector's pool is process-wide (any app built earlier opened it): closed
    before the test, and left closed after it."""
    doctolib_client.POOL.close()
    yield
    doctolib_client.POOL.close()


def _fetch_twice(pm: Any, upstream: SandboxUpstream) -> list[int]:
    query = SlotQuery(tuple(upstream.targets(30)), *slot_window())  # 2 batches: 25 + 5
    configs = {"doctolib_like": {"editors": {"editeur-a": upstream.config}}}
    counts = []
    for _ in range(2):
        outcome = call_each(pm, "fetch_slots", configs=configs, query=query)["doctolib_like"]
        assert outcome.ok, outcome.error
        counts.append(len(outcome.value))
    return counts


def test_after_startup_the_connector_reuses_one_client(
    editor: SandboxUpstream, pool_closed: None
) -> None:
    pm = make_plugin_manager(
        load_entry_points=False, plugins={"doctolib_like": connectors.doctolib_like}
    )
    built = doctolib_client.POOL.built
    _fetch_twice(pm, editor)
    assert doctolib_client.POOL.built == built  # before startup: one-off clients
    assert lifecycle.start(pm, {}) is True
    counts = _fetch_twice(pm, editor)
    assert counts[0] > 0 and counts == [counts[0]] * 2
    assert len(editor.searched_ids()) == 8  # (2 + 2 fetches) × 2 batches
    endpoint = doctolib_client.editor_endpoint(SOURCE, {"editors": {"editeur-a": editor.config}})
    pooled = doctolib_client.POOL.pooled(endpoint)
    assert pooled is not None and doctolib_client.POOL.built == built + 1  # one client, twice
    lifecycle.stop(pm)
    assert pooled.is_closed and not doctolib_client.POOL.is_open


class _KeepAlive(BaseHTTPRequestHandler):
    """An HTTP/1.1 upstream keeping connections open (the sandboxes' werkzeug server
    closes every connection, so it cannot show reuse)."""

    protocol_version = "HTTP/1.1"
    body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": []}).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def keep_alive() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/fhir"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize(("pooled", "expected"), [(True, 1), (False, 2)])
def test_a_pooled_client_keeps_one_connection_across_fetches(
    keep_alive: str, connections: list[tuple[str, int]], pooled: bool, expected: int
) -> None:
    pool = ClientPool()
    if pooled:
        pool.open()
    endpoint = Endpoint.from_config("kit", {"base_url": keep_alive})
    query = SlotQuery((), *slot_window())
    ids = [f"8100000000{i:02d}" for i in range(60)]  # 3 batches per fetch
    for _ in range(2):
        slots = fetch_window(
            endpoint, "Slot", ids, lambda batch: [("id", ",".join(batch))],
            lambda body: ([], []), query=query, owners="practitioners",
            log=logging.getLogger(__name__), pool=pool,
        )  # fmt: skip
        assert slots == []
    # 6 GETs: over 1 connection when pooled, 1 per fetch (its own client) otherwise
    assert len(connections) == expected
    pool.close()


def test_a_pool_gives_one_client_per_endpoint_and_never_pools_a_test_transport() -> None:
    import httpx

    pool = ClientPool()
    a = Endpoint.from_config("x", {"base_url": "https://a.test"})
    b = Endpoint.from_config("x", {"base_url": "https://b.test"})
    with pool.client(a) as first:
        assert not pool.is_open and pool.pooled(a) is None
    assert first.is_closed  # one-off while the pool is not open
    pool.open()
    with pool.client(a) as one, pool.client(a) as same, pool.client(b) as other:
        assert one is same and one is not other and pool.built == 2
        assert one.timeout == httpx.Timeout(7.0) and not one.trust_env
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    with pool.client(a, transport=transport) as injected:
        assert injected is not one
    pool.close()
    assert one.is_closed and other.is_closed and pool.pooled(a) is None


# -- check_config -----------------------------------------------------------------------


def test_check_section_names_each_problem(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    assert check_section("s", {"base_url": "https://e.test", "client_cert": str(cert)}) == []
    assert check_section("s", {"enabled": False}) == []  # a disabled section is not checked
    assert check_section("s", None) == ["s : aucune configuration pour cette source"]
    assert check_section("s", {}) == ["s : base_url manquante"]
    assert check_section("s", {"base_url": "https://", "timeout_s": "vite"}) == [
        "s : base_url invalide, une adresse http(s)://hôte/… est attendue",
        "s : timeout_s doit être un nombre de secondes positif",
    ]
    missing = tmp_path / "ca.pem"
    assert check_section(
        "s", {"base_url": "http://e.test", "client_key": str(cert), "ca_bundle": str(missing)}
    ) == [
        "s : client_key sans client_cert",
        f"s : fichier ca_bundle introuvable (autorité de certification) : {missing}",
    ]


def test_the_connectors_check_config_hooks() -> None:
    assert connectors.cpts.check_config({}) == []  # not configured: nothing to check
    assert connectors.sos_medecins.check_config({"base_url": "sos.test"}) == [
        "sos_medecins : base_url invalide, une adresse http(s)://hôte/… est attendue"
    ]
    assert connectors.cpts.check_config({"base_url": "https://cpts.test"}) == []
    assert connectors.doctolib_like.check_config({"editors": {}}) == [
        "doctolib_like : aucun éditeur configuré (table « editors » vide ou absente)"
    ]
    assert connectors.doctolib_like.check_config(
        {"editors": {"a": {"base_url": "https://a.test"}, "b": {"timeout_s": 3}}}
    ) == ["doctolib_like:b : base_url manquante"]


def test_the_kit_is_one_package_face() -> None:
    for name in portal.kit.__all__:
        assert getattr(portal.kit, name) is not None, name
    with pytest.raises(ModuleNotFoundError):
        __import__("portal.kit.http")
