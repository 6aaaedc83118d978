"""What the validator returns: problems with a FHIRPath-like location, and the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding.

    ``location`` is FHIRPath-like (``Bundle.entry[3].resource.meta.security[0]``);
    ``message`` is French and names the offending value; ``requirement`` is the id of
    the national test-kit requirement the rule implements (``"agg-psindiv-17"``), the
    message then starts with it in brackets.
    """

    location: str
    message: str
    severity: Severity
    requirement: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """All the problems found in one document, and what the document was taken for."""

    problems: list[Problem]
    kind: str

    @property
    def valid(self) -> bool:
        """No error (warnings are allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def requirement_id(number: int) -> str:
    """``17`` → ``"agg-psindiv-17"`` (the test kit's "Req Set" and "ID" columns)."""
    return f"agg-psindiv-{number}"


@dataclass
class Collector:
    """Accumulates problems in discovery order, without duplicates."""

    problems: list[Problem] = field(default_factory=list)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, severity: Severity, location: str, message: str, req: int | None = None) -> None:
        requirement = requirement_id(req) if req is not None else None
        if requirement:
            message = f"[{requirement}] {message}"
        key = (severity, location, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.problems.append(Problem(location, message, severity, requirement))

    def error(self, location: str, message: str, req: int | None = None) -> None:
        self.add("error", location, message, req)

    def warning(self, location: str, message: str, req: int | None = None) -> None:
        self.add("warning", location, message, req)

    def has_error_at(self, location: str) -> bool:
        return any(p.location == location and p.severity == "error" for p in self.problems)
