"""What a directory import did: counts, skipped lines and warnings, in French."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_WARNINGS_KEPT = 1000
MAX_PROBLEMS_KEPT = 10000  # every skipped line is counted in ``skipped``


@dataclass
class ImportReport:
    """What an import did.

    ``problems`` are the skipped lines, ``warnings`` the lines kept with a caveat (a
    place without coordinates); both hold ``(line_number, message_fr)``, the header
    being line 1. Only the first ``MAX_PROBLEMS_KEPT`` / ``MAX_WARNINGS_KEPT`` are kept;
    ``skipped`` and ``warnings_total`` count them all.
    """

    lines_read: int = 0
    skipped: int = 0
    practitioners_created: int = 0
    practitioners_updated: int = 0
    practitioners_unchanged: int = 0
    places_created: int = 0
    places_updated: int = 0
    places_unchanged: int = 0
    structures_created: int = 0
    structures_updated: int = 0
    structures_unchanged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    warnings_total: int = 0  # warnings beyond MAX_WARNINGS_KEPT are counted, not kept
    columns: int = 0
    duration_s: float = 0.0

    def problem(self, number: int, message: str) -> None:
        """Keep a skipped line's message (the caller counts it in ``skipped``)."""
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((number, message))

    def warn(self, number: int, message: str) -> None:
        """Count a warning about a kept line, and keep its message while there is room."""
        self.warnings_total += 1
        if len(self.warnings) < MAX_WARNINGS_KEPT:
            self.warnings.append((number, message))

    def problem_lines(self) -> list[str]:
        """The problems as printed: ``ligne 8 : …``."""
        return [format_line_message(n, m) for n, m in self.problems]

    def warning_lines(self) -> list[str]:
        """The warnings as printed: ``ligne 8 : …``."""
        return [format_line_message(n, m) for n, m in self.warnings]

    def summary(self) -> str:
        """A French summary of the counts, several lines."""

        def counts(created: int, updated: int, unchanged: int, e: str = "") -> str:
            return (f"{_n(created)} créé{e}s, {_n(updated)} mis{e and 'es'} à jour, "
                    f"{_n(unchanged)} inchangé{e}s")  # fmt: skip

        duration = f"{self.duration_s:.1f}".replace(".", ",")
        lines = [
            f"Import terminé en {duration} s : {_n(self.lines_read)} lignes lues "
            f"({self.columns} colonnes), {_n(self.skipped)} ignorées.",
            "Professionnels : " + counts(
                self.practitioners_created, self.practitioners_updated,
                self.practitioners_unchanged),
            "Lieux d'exercice : " + counts(
                self.places_created, self.places_updated, self.places_unchanged),
            "Structures : " + counts(
                self.structures_created, self.structures_updated, self.structures_unchanged,
                "e"),
        ]  # fmt: skip
        if self.warnings_total:
            lines.append(f"Avertissements : {_n(self.warnings_total)}.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def format_line_message(number: int, message: str) -> str:
    """``ligne 8 : <message>``: how a line's problem or warning is printed."""
    return f"ligne {number} : {message}"


def _n(value: int) -> str:
    """French thousands separator (narrow no-break space)."""
    return f"{value:,}".replace(",", "\u202f")
