"""The states of a slot source after a refresh, and their French labels: one table.

Read by the aggregation (``SourceStatus.state``), the source health page, the
search's "why is nothing shown" panel and live refresh, the ``refresh`` command
and the templates, so a state reads the same everywhere. Pure data, with the
labels of the sources themselves (:class:`SourceLabels`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

SourceState = Literal[
    "fresh", "partial", "failed", "timeout", "open", "killed", "absent", "pending"
]

#: Every state, with what a regulator or an administrator reads.
STATE_LABELS: Final[dict[str, str]] = {
    "fresh": "à jour",
    "partial": "réponse partielle",
    "failed": "en échec",
    "timeout": "délai dépassé",
    "open": "suspendue après plusieurs échecs",
    "killed": "coupée",
    "absent": "connecteur non chargé",
    "pending": "réponse attendue",
}
#: States whose slots may be stale or missing: reported on the cards and in the panel.
PROBLEM_STATES: Final = frozenset({"partial", "failed", "timeout", "open", "killed"})


def state_label(state: str | None) -> str:
    """``"délai dépassé"`` for ``"timeout"``; an unknown state as it is, none as ``—``."""
    if not state:
        return "—"
    return STATE_LABELS.get(state, state)


#: Words of sub-source ids written with their accents when no label is configured.
_ACCENTED: Final[dict[str, str]] = {
    "editeur": "Éditeur", "medecins": "Médecins", "sos": "SOS", "cpts": "CPTS", "msp": "MSP",
}  # fmt: skip


def humanise(detail: str) -> str:
    """``"editeur-a"`` → ``"Éditeur A"``: a sub-source id as a regulator reads it."""
    words = [w for w in detail.replace("_", "-").split("-") if w]
    return " ".join(_ACCENTED.get(w.lower(), w.upper() if len(w) <= 2 else w.capitalize())
                    for w in words)  # fmt: skip


class SourceLabels:
    """What a regulator reads for a slot source, never its internal id.

    ``connectors`` maps a connector name to its ``ConnectorInfo.label``; ``config`` is the
    ``CONNECTORS`` setting: a sub-source (``doctolib_like:editeur-a``) is named by the
    ``label`` of its section (``[doctolib_like.editors.editeur-a]``), else by its id made
    readable (``Éditeur A``); a source without sub-source by its section's ``label``,
    else the connector's label.
    """

    def __init__(
        self, connectors: Mapping[str, str] | None = None, config: Mapping[str, Any] | None = None
    ) -> None:
        self.connectors = dict(connectors or {})
        self.config = config or {}

    def _section(self, name: str) -> Mapping[str, Any]:
        section = self.config.get(name)
        return section if isinstance(section, Mapping) else {}

    def __call__(self, source: str) -> str:
        name, _, detail = source.partition(":")
        section = self._section(name)
        if detail:
            for key in ("editors", "sources"):
                sub = section.get(key)
                entry = sub.get(detail) if isinstance(sub, Mapping) else None
                if isinstance(entry, Mapping) and str(entry.get("label") or "").strip():
                    return str(entry["label"]).strip()
            return humanise(detail)
        if str(section.get("label") or "").strip():
            return str(section["label"]).strip()
        return self.connectors.get(name) or humanise(name)

    def names(self, sources: Iterable[str]) -> tuple[str, ...]:
        """The labels of ``sources``, in order, each once."""
        return tuple(dict.fromkeys(self(s) for s in sources))
