"""The states of a slot source after a refresh, and their French labels: one table.

Read by the aggregation (``SourceStatus.state``), the source health page, the
search's "why is nothing shown" panel and live refresh, the ``refresh`` command
and the templates, so a state reads the same everywhere. Pure data.
"""

from __future__ import annotations

from typing import Final, Literal

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
