"""Binding entries: what one line of a bindings file says, and what became of it.

Pure: parsing (``source,national_id,upstream_id``; ``;`` accepted, header and
``#`` comments skipped) and the outcome vocabulary of the bindings report. The
service that stores entries is :mod:`portal.slots.bindings`.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["created", "updated", "unchanged", "refused"]
OUTCOME_LABELS: dict[str, str] = {
    "created": "créée",
    "updated": "mise à jour",
    "unchanged": "inchangée",
    "refused": "refusée",
}
#: Prefixed national ids: 8+RPPS (11 digits), 0+ADELI (9), 1+FINESS (9), 3+SIRET (14).
NATIONAL_ID = re.compile(r"8\d{11}|0[0-9A-Z]{9}|1[0-9][0-9AB]\d{7}|3\d{14}")
#: An upstream id: printable, no spaces, at most 200 characters (empty: the national id is used).
UPSTREAM_ID = re.compile(r"[!-~]{0,200}")
#: Lines looked up together (one query per table per chunk), progress reported per chunk.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class Entry:
    """One binding to store: a source, a prefixed national id, an upstream id."""

    source: str
    national_id: str
    upstream_id: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class EntryResult:
    """What became of one entry; ``reason`` says why it was refused (French)."""

    entry: Entry
    outcome: Outcome
    reason: str = ""


@dataclass(slots=True)
class BindingReport:
    """Per-entry results of an import or a discovery, and their counts."""

    results: list[EntryResult] = field(default_factory=list)
    dry_run: bool = False

    @property
    def counts(self) -> Counter[str]:
        return Counter(r.outcome for r in self.results)

    def summary(self) -> str:
        """One French line: how many created, updated, unchanged, refused."""
        counts = self.counts
        parts = [f"{counts[o]} {OUTCOME_LABELS[o]}(s)" for o in OUTCOME_LABELS]
        prefix = "Simulation (rien n'est enregistré) : " if self.dry_run else ""
        return prefix + ", ".join(parts)


def parse_csv(text: str) -> Iterable[Entry | EntryResult]:
    """Entries of a ``source,national_id,upstream_id`` file (``;`` also accepted, header optional).

    A line that cannot be read becomes a refused :class:`EntryResult` in place.
    """
    delimiter = (
        ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    )
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and cells[0].lower() == "source":
            continue  # header
        if len(cells) not in (2, 3):
            bad = Entry(cells[0] if cells else "", cells[1] if len(cells) > 1 else "", line=number)
            yield EntryResult(
                bad,
                "refused",
                f"{len(cells)} colonnes au lieu de 3 "
                "(source, identifiant national, identifiant amont)",
            )
            continue
        yield Entry(cells[0], cells[1], cells[2] if len(cells) == 3 else "", line=number)
