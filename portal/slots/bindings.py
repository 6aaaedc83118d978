"""Which source serves whom: importing, listing, adding and removing connector bindings.

A binding (``ConnectorBinding``) ties a practitioner or a structure of the
directory to a slot source, with the id its upstream knows it by (stored as
``upstream_ids["id"]``; other keys a binding already holds are kept). Without
one, a source is never asked for anyone. Bindings come from a CSV file
(``sas-portal bindings import``), from the connectors that can list whom they
serve (hook ``discover_targets``, ``sas-portal bindings discover``) or one by one
from the administration page. Every entry is checked on its own — a malformed
line is refused with its reason and never aborts the others — and reported as
created, updated, unchanged or refused.

The service owns its transaction (commit, or rollback on ``dry_run``). It may
import ``portal.models``, ``portal.audit``, ``portal.plugins`` and the directory;
no Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pluggy
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal import audit, plugins
from portal.models import ConnectorBinding, Practitioner, Structure
from portal.slots.binding_entries import (
    NATIONAL_ID,
    UPSTREAM_ID,
    BindingReport,
    Entry,
    EntryResult,
    parse_csv,
)

__all__ = ["BindingReport", "BindingRow", "Entry", "EntryResult", "parse_csv"]

#: (source, practitioner row id, structure row id): one binding at most
BindingKey = tuple[str, int | None, int | None]
#: Lines looked up together (one query per table per chunk), progress reported per chunk.
CHUNK = 500


@dataclass(frozen=True, slots=True)
class BindingRow:
    """A binding as listed: source, target (national id, kind, name), upstream ids."""

    id: int
    source: str
    national_id: str
    kind: Literal["practitioner", "structure"]
    name: str
    upstream_ids: Mapping[str, Any]
    enabled: bool


def known_sources(
    session: Session, config: Mapping[str, Any], connector_names: Iterable[str]
) -> set[str]:
    """Sources one may bind to: loaded connectors, configured editors, sources already bound."""
    from portal.slots.health import configured_sources

    bound = set(session.scalars(select(ConnectorBinding.source).distinct()))
    return set(connector_names) | configured_sources(config) | bound


def store(
    session: Session,
    entries: Iterable[Entry | EntryResult],
    known: set[str],
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BindingReport:
    """Create or update the bindings of ``entries``, each checked on its own; commit once.

    :param known: the sources one may bind to (:func:`known_sources`).
    :param dry_run: check and report everything, store nothing.
    :param progress: called with the number of entries handled after each chunk.
    """
    report = BindingReport(dry_run=dry_run)
    chunk: list[Entry | EntryResult] = []
    for item in entries:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            _store_chunk(session, chunk, known, report)
            chunk = []
            if progress is not None:
                progress(len(report.results))
    _store_chunk(session, chunk, known, report)
    if progress is not None and chunk:
        progress(len(report.results))
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return report


def _store_chunk(
    session: Session, chunk: Sequence[Entry | EntryResult], known: set[str], report: BindingReport
) -> None:
    ids = {e.national_id for e in chunk if isinstance(e, Entry)}
    by_nid = Practitioner.national_id.in_(ids)
    people = {
        nid: pk
        for nid, pk in session.execute(
            select(Practitioner.national_id, Practitioner.id).where(by_nid)
        )
    }
    at = Structure.national_id.in_(ids)
    places = {
        nid: pk
        for nid, pk in session.execute(select(Structure.national_id, Structure.id).where(at))
    }
    # the chunk's existing bindings, in one query; new ones join them (a repeated line)
    existing: dict[BindingKey, ConnectorBinding] = {
        (b.source, b.practitioner_id, b.structure_id): b
        for b in session.scalars(
            select(ConnectorBinding).where(
                or_(
                    ConnectorBinding.practitioner_id.in_(list(people.values())),
                    ConnectorBinding.structure_id.in_(list(places.values())),
                )
            )
        )
    }
    for item in chunk:
        if isinstance(item, EntryResult):
            report.results.append(item)
            continue
        report.results.append(_store_one(session, item, known, people, places, existing))
    session.flush()


def _refusal(
    entry: Entry, known: set[str], people: Mapping[str, int], places: Mapping[str, int]
) -> str:
    if entry.source not in known:
        return f"source inconnue « {entry.source} »"
    if not NATIONAL_ID.fullmatch(entry.national_id):
        return (
            f"identifiant national mal formé « {entry.national_id} » "
            "(8+RPPS, 0+ADELI, 1+FINESS ou 3+SIRET attendu)"
        )
    if not UPSTREAM_ID.fullmatch(entry.upstream_id):
        return "identifiant amont mal formé (caractères imprimables sans espace, 200 au plus)"
    if entry.national_id not in people and entry.national_id not in places:
        kind = "praticien" if entry.national_id[0] in "80" else "structure"
        return f"{kind} inconnu(e) de l'annuaire"
    return ""


def _store_one(
    session: Session,
    entry: Entry,
    known: set[str],
    people: Mapping[str, int],
    places: Mapping[str, int],
    existing: dict[BindingKey, ConnectorBinding],
) -> EntryResult:
    reason = _refusal(entry, known, people, places)
    if reason:
        return EntryResult(entry, "refused", reason)
    practitioner_id, structure_id = people.get(entry.national_id), places.get(entry.national_id)
    if practitioner_id is not None:
        structure_id = None
    key = (entry.source, practitioner_id, structure_id)
    binding = existing.get(key)
    wanted = {"id": entry.upstream_id} if entry.upstream_id else {}
    if binding is None:
        existing[key] = ConnectorBinding(
            source=entry.source,
            practitioner_id=practitioner_id,
            structure_id=structure_id,
            upstream_ids=wanted,
            enabled=True,
        )
        session.add(existing[key])
        return EntryResult(entry, "created")
    merged = {**(binding.upstream_ids or {}), **wanted}
    if not entry.upstream_id:
        merged.pop("id", None)
    if merged == (binding.upstream_ids or {}) and binding.enabled:
        return EntryResult(entry, "unchanged")
    binding.upstream_ids, binding.enabled = merged, True
    return EntryResult(entry, "updated")


def discover(
    session: Session,
    pm: pluggy.PluginManager,
    configs: Mapping[str, Mapping[str, Any]],
    known: set[str],
    *,
    only: Iterable[str] | None = None,
    dry_run: bool = False,
    deadline: float = 60.0,
) -> tuple[BindingReport, dict[str, str]]:
    """Ask the connectors implementing ``discover_targets`` whom they serve and store it.

    :return: the report, and connector name → a French note for each connector
        that failed or cannot list its targets (``None``).
    """
    notes: dict[str, str] = {}
    entries: list[Entry] = []
    for name, outcome in sorted(
        plugins.call_each(
            pm, "discover_targets", deadline=deadline, configs=configs, only=only
        ).items()
    ):
        if not outcome.ok:
            notes[name] = f"échec : {outcome.error}"
        elif outcome.value is None:
            notes[name] = "ne sait pas lister ses praticiens"
        else:
            entries += [Entry(name, str(nid), str(uid or "")) for nid, uid in outcome.value]
    return store(session, entries, known | {e.source for e in entries}, dry_run=dry_run), notes


def list_bindings(
    session: Session, *, source: str | None = None, offset: int = 0, limit: int | None = None
) -> tuple[list[BindingRow], int]:
    """Bindings (optionally of one source), in id order, and how many there are in all."""
    query = (
        select(ConnectorBinding, Practitioner, Structure)
        .outerjoin(Practitioner, Practitioner.id == ConnectorBinding.practitioner_id)
        .outerjoin(Structure, Structure.id == ConnectorBinding.structure_id)
        .order_by(ConnectorBinding.source, ConnectorBinding.id)
    )
    counted = select(func.count()).select_from(ConnectorBinding)
    if source is not None:
        query = query.where(ConnectorBinding.source == source)
        counted = counted.where(ConnectorBinding.source == source)
    rows = []
    for binding, person, place in session.execute(query.offset(offset).limit(limit)):
        if person is not None:
            rows.append(
                BindingRow(
                    binding.id,
                    binding.source,
                    person.national_id,
                    "practitioner",
                    f"{person.given_name} {person.family_name}",
                    dict(binding.upstream_ids or {}),
                    binding.enabled,
                )
            )
        elif place is not None:
            rows.append(
                BindingRow(
                    binding.id,
                    binding.source,
                    place.national_id,
                    "structure",
                    place.name,
                    dict(binding.upstream_ids or {}),
                    binding.enabled,
                )
            )
    return rows, int(session.scalar(counted) or 0)


def add_one(session: Session, entry: Entry, known: set[str], *, actor: str | None) -> EntryResult:
    """Bind one target (administration page), audited; committed unless refused."""
    report = BindingReport()
    _store_chunk(session, [entry], known, report)
    result = report.results[0]
    if result.outcome == "refused":
        session.rollback()
        return result
    details = {"national_id": entry.national_id, "upstream_id": entry.upstream_id}
    audit.record(
        session,
        "connector_binding_set",
        actor=actor,
        target=entry.source,
        details={**details, "outcome": result.outcome},
    )
    session.commit()
    return result


def remove(session: Session, source: str, national_id: str, *, actor: str | None) -> bool:
    """Unbind ``national_id`` from ``source``, audited; False when there was no such binding."""
    found = session.scalars(
        select(ConnectorBinding)
        .outerjoin(Practitioner, Practitioner.id == ConnectorBinding.practitioner_id)
        .outerjoin(Structure, Structure.id == ConnectorBinding.structure_id)
        .where(ConnectorBinding.source == source)
        .where(or_(Practitioner.national_id == national_id, Structure.national_id == national_id))
    ).all()
    if not found:
        return False
    for binding in found:
        session.delete(binding)
    audit.record(
        session,
        "connector_binding_removed",
        actor=actor,
        target=source,
        details={"national_id": national_id},
    )
    session.commit()
    return True
