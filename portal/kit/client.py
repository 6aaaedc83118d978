"""HTTP clients for an endpoint: explicit timeout, FHIR JSON, mTLS, no environment.

:class:`ClientPool` keeps one ``httpx.Client`` per endpoint for the life of the
process (TLS sessions and keep-alive connections reused from one search to the
next): a connector opens it in its ``startup`` hook and closes it in ``shutdown``.
Until opened (a test calling a hook directly, a one-off script), each use gets a
client of its own, closed after use. :func:`send` maps failures to
:mod:`portal.errors` and retries GETs only, once, after a jittered pause.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from portal.errors import AuthError, ConnectorTimeout, Unavailable
from portal.kit.endpoint import Endpoint, ssl_context
from portal.kit.errors import raise_for_status

FHIR_JSON = "application/fhir+json"
#: Statuses worth one more GET after a short jittered pause (a gateway hiccup).
_TRANSIENT = frozenset({502, 503, 504})


def make_client(
    endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """An httpx client for ``endpoint``: explicit timeout, FHIR JSON, mTLS.

    Connection failures are retried once by the transport (the request never
    left, so this is safe for any method). ``transport`` replaces the network
    in tests (``httpx.MockTransport``). The environment is never read.
    """
    if transport is None:
        transport = httpx.HTTPTransport(
            verify=ssl_context(endpoint), retries=1, trust_env=False, proxy=endpoint.proxy
        )
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(endpoint.timeout_s),
        headers={"Accept": FHIR_JSON},
        trust_env=False,
        follow_redirects=False,
    )


class ClientPool:
    """One pooled client per :class:`Endpoint`, shared by the threads of a process.

    ``open()`` (the ``startup`` hook) turns pooling on; ``close()`` (``shutdown``)
    closes every client. Both are idempotent. httpx clients are thread-safe, so the
    concurrent calls of the portal share one connection pool per endpoint. A client
    is built at its endpoint's first use, never by ``open()``: the workers of a
    pre-forking server (``startup`` runs before the fork) each build their own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[Endpoint, httpx.Client] = {}
        self._open = False
        #: Clients built while open (one per endpoint unless closed in between).
        self.built = 0

    @property
    def is_open(self) -> bool:
        """Whether clients are pooled (between ``open()`` and ``close()``)."""
        return self._open

    def open(self) -> None:
        """Pool clients from now on (each is built at its endpoint's first use)."""
        with self._lock:
            self._open = True

    def close(self) -> None:
        """Close every pooled client; later uses get one-off clients until reopened."""
        with self._lock:
            clients, self._clients, self._open = list(self._clients.values()), {}, False
        for client in clients:
            client.close()

    def pooled(self, endpoint: Endpoint) -> httpx.Client | None:
        """The pooled client of ``endpoint``, if one was built."""
        with self._lock:
            return self._clients.get(endpoint)

    @contextmanager
    def client(
        self, endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None
    ) -> Iterator[httpx.Client]:
        """A client for ``endpoint``: the pooled one when open, else one closed after use.

        An injected ``transport`` (tests) always gets a client of its own.
        """
        if transport is None:
            with self._lock:
                client = self._clients.get(endpoint) if self._open else None
                if self._open and client is None:
                    client = self._clients[endpoint] = make_client(endpoint)
                    self.built += 1
            if client is not None:
                yield client
                return
        with make_client(endpoint, transport=transport) as own:
            yield own


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    source: str,
    json: Any = None,
    attempts: int | None = None,
) -> httpx.Response:
    """Send one request; return a 2xx response or raise the mapped :class:`ConnectorError`.

    A GET (idempotent) gets one more try after a jittered pause on 502/503/504
    or a dropped connection; a POST/PUT never does (the portal's outbox retries).
    """
    idempotent = method.upper() == "GET"
    tries = attempts if attempts is not None else (2 if idempotent else 1)
    headers = {"Content-Type": FHIR_JSON} if json is not None else None
    for attempt in range(1, tries + 1):
        last = attempt == tries
        try:
            response = client.request(method, url, json=json, headers=headers)
        except httpx.TimeoutException as exc:
            raise ConnectorTimeout(f"{source} n'a pas répondu à temps ({exc!s})") from exc
        except httpx.TransportError as exc:
            if "CERTIFICATE" in str(exc).upper():  # TLS refused: ours or theirs, not transient
                raise AuthError(
                    f"{source} : échec de l'authentification TLS (certificat) ({exc!s})"
                ) from exc
            dropped = isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
            if last or not dropped:
                what = "a coupé la connexion" if dropped else "est injoignable"
                raise Unavailable(f"{source} {what} ({exc!s})") from exc
        else:
            if response.status_code not in _TRANSIENT or last:
                raise_for_status(response, source=source)
                return response
        time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("unreachable")  # pragma: no cover
