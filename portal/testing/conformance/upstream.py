"""What the conformance kit drives: the ``Upstream`` protocol, and its adapter for the
in-repo sandbox editors (:class:`SandboxUpstream`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, get_args, runtime_checkable
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from portal.domain import SlotTarget
from portal.domain import slot_window as window
from portal.testing.sandbox import Behaviour, SandboxServer, fhir_id

Mode = Literal["ok", "error", "timeout", "auth", "malformed", "gone"]
#: The behaviours an upstream may simulate (``Upstream.set_behaviour``).
MODES: tuple[str, ...] = get_args(Mode)
#: The ``origin`` the sandbox adapter configures (booking redirects must carry it).
KIT_ORIGIN = "sas-portal-conformance"


@runtime_checkable
class Upstream(Protocol):
    """A started upstream (an editor simulator) the kit points the connector at.

    Modes of :meth:`set_behaviour`:

    - ``ok``: answers normally;
    - ``error``: searches answer 5xx with a diagnostic text (an OperationOutcome);
    - ``timeout``: requests hang well past :attr:`timeout_s`;
    - ``auth``: 401/403, our credentials are refused;
    - ``malformed``: search answers hold some broken entries beside the good ones;
    - ``gone``: booking requests answer 409/410 (the slot was taken); searches answer normally.

    An upstream lists in :attr:`modes` the ones it can simulate; a contract test that
    needs another one fails, naming it (opt only into contracts the upstream supports).
    """

    @property
    def config(self) -> Mapping[str, Any]:
        """The connector's configuration section pointing at this upstream; it sets the
        connector's client timeout to :attr:`timeout_s`."""
        ...

    @property
    def modes(self) -> frozenset[str]:
        """The behaviours this upstream can simulate (a subset of :data:`MODES`)."""
        ...

    @property
    def timeout_s(self) -> float:
        """The connector's client timeout that :attr:`config` sets (short: about 0.5 s)."""
        ...

    def targets(self, n: int) -> list[SlotTarget]:
        """``n`` distinct bound targets this upstream knows, with free slots in the coming
        three days, their ``source`` the one the portal's binding would record."""
        ...

    def set_behaviour(self, mode: str, latency_s: float = 0.0) -> None:
        """Switch to ``mode``, adding ``latency_s`` before every answer."""
        ...

    def searched_ids(self) -> list[list[str]]:
        """The national ids of every slot search received so far, one list per request."""
        ...


class SandboxUpstream:
    """:class:`Upstream` over a started in-repo sandbox (``connectors/<name>/sandbox.py``).

    :param server: the started sandbox server.
    :param source: the targets' source, as bound (``doctolib_like:kit``, ``sos_medecins``).
    :param target_kind: ``practitioner`` (individual PS, CPTS members) or ``structure``
        (SOS Médecins associations, searched by ``3``+SIRET).
    :param config: turns the standard section (``base_url``, ``timeout_s``, ``origin``,
        ``enabled``) into the connector's configuration, e.g. ``lambda s: {"editors":
        {"kit": s}}``; by default the section is the configuration.
    """

    modes = frozenset({"ok", "error", "timeout", "auth", "malformed"})

    def __init__(
        self,
        server: SandboxServer,
        source: str,
        target_kind: Literal["practitioner", "structure"] = "practitioner",
        *,
        config: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
        timeout_s: float = 0.5,
        origin: str = KIT_ORIGIN,
    ) -> None:
        self.server = server
        self.source = source
        self.target_kind = target_kind
        self.timeout_s = timeout_s
        self.origin = origin
        self._wrap = config

    @property
    def config(self) -> Mapping[str, Any]:
        section = {
            "base_url": self.server.url,
            "timeout_s": self.timeout_s,
            "origin": self.origin,
            "enabled": True,
        }
        return self._wrap(section) if self._wrap else section

    def targets(self, n: int) -> list[SlotTarget]:
        start, end = window()
        found: list[SlotTarget] = []
        for i in range(50 * n + 100):
            national_id = self._national_id(i)
            if self._has_free_slot(national_id, start, end):
                found.append(SlotTarget(national_id, kind=self.target_kind, source=self.source))
                if len(found) == n:
                    return found
        raise RuntimeError(f"the sandbox has fewer than {n} targets with free slots")

    def set_behaviour(self, mode: str, latency_s: float = 0.0) -> None:
        if mode not in self.modes:
            raise ValueError(f"the sandbox cannot simulate {mode!r}")
        self.server.behaviour = Behaviour(mode=mode, latency_s=latency_s)  # type: ignore[arg-type]

    def searched_ids(self) -> list[list[str]]:
        searches = []
        for method, path, raw in list(self.server.requests):
            if method != "GET" or path not in ("/fhir/Slot", "/fhir/Schedule"):
                continue
            tokens = [v for k, v in parse_qsl(raw) if k.endswith("identifier")]
            searches.append([t.rpartition("|")[2] for v in tokens for t in v.split(",") if t])
        return searches

    # -- the sandbox's own agenda, so that targets() only returns targets with slots

    def _national_id(self, i: int) -> str:
        if self.target_kind == "structure":
            return f"3{10_000_000_000_000 + i}"  # 3 + SIRET (14 digits)
        return f"8{10_000_000_000 + i}"  # 8 + RPPS (11 digits)

    def _agenda_keys(self, national_id: str) -> list[str]:
        association = getattr(self.server, "association", None)
        if association is not None:  # SOS: one agenda per consultation site
            return [fhir_id(site.id) for site in association(national_id).sites]
        getattr(self.server, "practitioner", lambda _: None)(national_id)
        return [national_id]

    def _has_free_slot(self, national_id: str, start: datetime, end: datetime) -> bool:
        for key in self._agenda_keys(national_id):
            zone = ZoneInfo(self.server.timezone_for(key))
            first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
            for offset in range((last - first).days + 1):
                day: date = first + timedelta(days=offset)
                if any(s.free and start <= s.start <= end for s in self.server.day_slots(key, day)):
                    return True
        return False
