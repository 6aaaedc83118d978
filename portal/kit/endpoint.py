"""One upstream server as a connector's configuration section describes it.

``Endpoint`` (base URL, mTLS files, CA bundle, ``origin``, timeout, proxy), the
mutual-TLS context built from it, and :func:`check_section`, which lists what is
wrong with a section without raising (the ``check_config`` hook).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from portal.errors import ConnectorError

DEFAULT_TIMEOUT_S = 7.0
DEFAULT_ORIGIN = "sas-portal"
_FILES = (
    ("client_cert", "certificat client"),
    ("client_key", "clé privée du certificat client"),
    ("ca_bundle", "autorité de certification"),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One upstream FHIR server, as described by a configuration section."""

    source: str
    base_url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    origin: str = DEFAULT_ORIGIN
    timeout_s: float = DEFAULT_TIMEOUT_S
    proxy: str | None = None

    @classmethod
    def from_config(cls, source: str, section: Mapping[str, Any] | None) -> Endpoint:
        """Read a section (``base_url``, ``client_cert``, ``client_key``, ``ca_bundle``,
        ``origin``, ``enabled``, ``timeout_s``, optional ``proxy``).

        :raises ConnectorError: when the section is missing, disabled or has no ``base_url``.
        """
        if section is None:
            raise ConnectorError(f"{source} : aucune configuration pour cette source")
        if not section.get("enabled", True):
            raise ConnectorError(f"{source} : source désactivée dans la configuration")
        base_url = str(section.get("base_url") or "").strip()
        if not base_url.startswith(("http://", "https://")):
            raise ConnectorError(f"{source} : configuration incomplète (base_url http(s) requise)")
        timeout = section.get("timeout_s")
        return cls(
            source=source,
            base_url=base_url.rstrip("/"),
            client_cert=section.get("client_cert") or None,
            client_key=section.get("client_key") or None,
            ca_bundle=section.get("ca_bundle") or None,
            origin=str(section.get("origin") or DEFAULT_ORIGIN),
            timeout_s=float(timeout) if timeout is not None else DEFAULT_TIMEOUT_S,
            proxy=section.get("proxy") or None,
        )

    def url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        """``[base]/path?query``, the query encoded by :func:`encode_query`."""
        query = encode_query(params)
        return f"{self.base_url}/{path.lstrip('/')}" + (f"?{query}" if query else "")


def encode_query(params: Sequence[tuple[str, str]]) -> str:
    """Encode search parameters, keeping FHIR's ``:`` ``.`` and the ``,`` OR separator
    readable and encoding the rest (``|`` → ``%7C``, ``+`` → ``%2B``)."""
    return "&".join(f"{quote(k, safe=':.')}={quote(v, safe=':,')}" for k, v in params)


def check_section(source: str, section: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with one endpoint's section, in French; ``[]`` when it is usable.

    A disabled section (``enabled: false``) is not checked. Checked: a ``base_url``
    in http(s) with a host, a positive ``timeout_s``, a client key beside a client
    certificate, and that every file named (certificate, key, CA bundle) exists.
    """
    if section is None:
        return [f"{source} : aucune configuration pour cette source"]
    if not isinstance(section, Mapping):
        return [f"{source} : la configuration doit être une table de paramètres"]
    if not section.get("enabled", True):
        return []
    problems: list[str] = []
    base_url = str(section.get("base_url") or "").strip()
    parts = urlsplit(base_url)
    if not base_url:
        problems.append(f"{source} : base_url manquante")
    elif parts.scheme not in ("http", "https") or not parts.netloc:
        # the value is not echoed: it may hold credentials, and /healthz is public
        problems.append(f"{source} : base_url invalide, une adresse http(s)://hôte/… est attendue")
    timeout = section.get("timeout_s")
    if timeout is not None:
        try:
            positive = float(timeout) > 0
        except (TypeError, ValueError):
            positive = False
        if not positive:
            problems.append(f"{source} : timeout_s doit être un nombre de secondes positif")
    if section.get("client_key") and not section.get("client_cert"):
        problems.append(f"{source} : client_key sans client_cert")
    for key, what in _FILES:
        path = section.get(key)
        if path and not Path(str(path)).is_file():
            problems.append(f"{source} : fichier {key} introuvable ({what}) : {path}")
    return problems


def ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Server verification (``ca_bundle`` or the default CAs) and the client certificate.

    httpx 0.28 deprecates ``cert=`` and ``verify=<path>``: the context is built here.
    """
    try:
        if endpoint.ca_bundle:
            context = ssl.create_default_context(cafile=endpoint.ca_bundle)
        else:
            context = httpx.create_ssl_context(trust_env=False)
        if endpoint.client_cert:
            context.load_cert_chain(endpoint.client_cert, endpoint.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectorError(
            f"{endpoint.source} : certificat client ou autorité de certification illisible ({exc})"
        ) from exc
    return context
