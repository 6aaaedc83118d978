"""Import of the national directory extraction ``PS_LibreAcces_Personne_activite``.

The file (annuaire.sante.fr open data, mirrored on data.gouv.fr) is pipe-separated
UTF-8 text, one line per professional activity, every line ending with ``|``. Columns
are matched by name (case, accents and punctuation ignored), so both the 52-column
layout and the newer 56-column one are read; see
``data/annuaire/ps-libreacces-columns.md`` in the shared notes for the column list.

What one line becomes:

- a :class:`~portal.models.Practitioner`, keyed by "Identification nationale PP"
  (``8`` + RPPS or ``0`` + ADELI);
- a :class:`~portal.models.Structure` when the line names one, keyed by a prefixed
  national id: ``1`` + FINESS site, else ``3`` + SIRET site, else the "Ancien
  identifiant de la structure" (already prefixed), else ``4`` + technical id;
- a :class:`~portal.models.PlaceOfPractice` keyed by ``activity_key``, the SHA-1 of
  the national id, the structure technical id and the address fields; geocoded at
  the commune centre from the INSEE code (or the postcode when the code is empty):
  ``geocode_precision`` is ``"commune"``, ``"postcode"`` (ambiguous postcode, most
  populous commune, no INSEE code kept) or ``"none"`` (no coordinates, with a warning).

Re-importing the same file changes nothing (no UPDATE, ``updated_at`` untouched).
A value present in the database is never blanked by an empty field, and when a
person or a structure appears on several lines, the first line of the file wins
for each field (later lines only fill what is still empty): so the result does
not depend on the batch boundaries and a second import is a no-op. A structure's
``kind`` is only set when it is created (an administrator may refine it: SOS, CPTS).
Rows missing from a newer file are not deleted (no pruning yet).

Modules: :mod:`~portal.directory.columns` (column aliases, header, field limits),
:mod:`~portal.directory.activities` (one line parsed), :mod:`~portal.directory.report`
(the counts and French line messages); this one drives the import and writes.

Speed: rows are read per batch, existing rows of the batch are loaded with a few
``IN`` queries into dicts, then inserted/updated with executemany statements and
committed per batch (≈ 100 000 lines in seconds on SQLite).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from portal.directory.activities import Activity, LineParser
from portal.directory.columns import (
    PERSON_COLUMNS,
    PLACE_COLUMNS,
    STRUCTURE_COLUMNS,
    DirectoryFormatError,
    read_header,
)
from portal.directory.report import ImportReport
from portal.models import PlaceOfPractice, Practitioner, Structure, utcnow
from portal.reference.geo import GeoIndex, get_index

_ANALYZE_FIRST = 2000  # PostgreSQL: ANALYZE once this many rows were created, then at x2
_IN_CHUNK = 900  # bound parameters per IN (…) query, well under every backend's limit


def import_directory(
    session: Session,
    lines: Iterable[str] | str | os.PathLike[str],
    *,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 5000,
    geo: GeoIndex | None = None,
) -> ImportReport:
    """Import an extraction into the directory tables; idempotent upsert.

    :param lines: the file's lines (header first), or the path of the file.
    :param progress: called after each batch with the number of lines it consumed.
    :param batch_size: lines per batch; each batch is flushed and committed.
    :raises DirectoryFormatError: empty file or unexpected header (nothing imported).
    :raises OSError: the path cannot be read.

    Malformed lines (wrong column count, missing identifier, unknown commune code)
    are reported in ``problems`` and skipped; the import goes on.
    """
    if isinstance(lines, (str, os.PathLike)):
        with open(lines, encoding="utf-8", errors="replace", newline="\n") as stream:
            return import_directory(
                session, stream, progress=progress, batch_size=batch_size, geo=geo
            )
    started = time.perf_counter()
    importer = _Importer(session, geo or get_index(), max(1, batch_size), progress)
    importer.run(iter(lines))
    importer.report.duration_s = time.perf_counter() - started
    return importer.report


def _empty(value: Any) -> bool:
    return value is None or value == ""


class _Importer:
    """One import run: reads lines in batches and upserts each batch."""

    def __init__(
        self,
        session: Session,
        geo: GeoIndex,
        batch_size: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.session, self.geo = session, geo
        self.batch_size, self.progress = batch_size, progress
        self.report = ImportReport()
        self.now = utcnow()
        # keys already upserted by an earlier batch of this import: later lines only fill gaps
        self.done_people: set[str] = set()
        self.done_structures: set[str] = set()
        self.analyze_at = _ANALYZE_FIRST

    # ------------------------------------------------------------------ reading

    def run(self, lines: Iterator[str]) -> None:
        """Read the header, then parse, batch and write every line."""
        header = next(lines, None)
        if header is None or not header.strip():
            raise DirectoryFormatError("fichier vide : l'en-tête de l'extraction est absent")
        positions, self.report.columns, trailing = read_header(header)
        parser = LineParser(self.geo, self.report, positions, self.report.columns, trailing)
        batch: list[Activity] = []
        consumed = 0
        for number, raw in enumerate(lines, start=2):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            self.report.lines_read += 1
            consumed += 1
            activity = parser.parse(number, line)
            if activity is None:
                self.report.skipped += 1
                continue
            # cut batches between two people, so a person's lines stay together
            if len(batch) >= self.batch_size and (
                activity.person_key != batch[-1].person_key or len(batch) >= 2 * self.batch_size
            ):
                self.flush(batch)
                batch = []
                if self.progress:
                    self.progress(consumed - 1)
                consumed = 1
            batch.append(activity)
        if batch:
            self.flush(batch)
        if self.progress and consumed:
            self.progress(consumed)

    # ------------------------------------------------------------------ writing

    def flush(self, batch: list[Activity]) -> None:
        people: dict[str, tuple[Any, ...]] = {}
        structures: dict[str, tuple[Any, ...]] = {}
        for a in batch:
            people[a.person_key] = _first_filled(people.get(a.person_key), a.person)
            if a.structure_key and a.structure:
                structures[a.structure_key] = _first_filled(
                    structures.get(a.structure_key), a.structure
                )
        person_ids = self.upsert(
            Practitioner, "national_id", PERSON_COLUMNS, people, "practitioners",
            done=self.done_people,
        )  # fmt: skip
        structure_ids = self.upsert(
            Structure, "national_id", STRUCTURE_COLUMNS, structures, "structures",
            done=self.done_structures, insert_only=("kind",),
        )  # fmt: skip
        places: dict[str, tuple[Any, ...]] = {}
        for a in batch:
            if a.place and a.place[0] not in places:
                structure_id = structure_ids.get(a.structure_key) if a.structure_key else None
                places[a.place[0]] = (person_ids[a.person_key], structure_id, *a.place[1:])
        self.upsert(PlaceOfPractice, "activity_key", PLACE_COLUMNS, places, "places")
        self.session.commit()
        self.refresh_statistics()

    def refresh_statistics(self) -> None:
        """ANALYZE the tables on PostgreSQL each time the rows created so far double.

        The server keeps the plan of a prepared statement made while a table was
        small (a sequential scan); as the table grows each ``IN`` lookup would then
        scan it whole (seconds per batch). ANALYZE invalidates those plans, and
        leaves the searches that follow the import with fresh statistics.
        """
        report = self.report
        created = report.practitioners_created + report.places_created
        created += report.structures_created
        if created < self.analyze_at or self.session.get_bind().dialect.name != "postgresql":
            return
        self.analyze_at = 2 * created
        for model in (Practitioner, Structure, PlaceOfPractice):
            self.session.execute(text(f"ANALYZE {model.__tablename__}"))
        self.session.commit()

    def upsert(
        self,
        model: type[Any],
        key_name: str,
        columns: Sequence[str],
        rows: dict[str, tuple[Any, ...]],
        counter: str,
        *,
        done: set[str] | None = None,
        insert_only: Sequence[str] = (),
    ) -> dict[str, int]:
        """Insert the new rows, update the changed ones; return natural key -> id.

        With ``done`` (people, structures): an empty value never blanks a stored one,
        and a key already handled by an earlier batch only gets its gaps filled.
        Without it (places): the line's values replace the stored ones.
        """
        if not rows:
            return {}
        key_column = getattr(model, key_name)
        selected = [getattr(model, c) for c in columns]
        existing: dict[str, tuple[int, tuple[Any, ...]]] = {}
        keys = list(rows)
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            query = select(model.id, key_column, *selected).where(key_column.in_(chunk))
            for row in self.session.execute(query):
                existing[row[1]] = (row[0], tuple(row[2:]))
        frozen = [columns.index(c) for c in insert_only]
        ids: dict[str, int] = {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        created = updated = unchanged = 0
        for key, values in rows.items():
            found = existing.get(key)
            if found is None:
                inserts.append(
                    {key_name: key, **dict(zip(columns, values, strict=True)),
                     "created_at": self.now, "updated_at": self.now}
                )  # fmt: skip
                created += 1
                continue
            pk, old = found
            ids[key] = pk
            seen_before = done is not None and key in done
            if done is None:
                new = list(values)
            elif seen_before:
                new = list(_first_filled(old, values))
            else:
                new = [o if _empty(n) else n for o, n in zip(old, values, strict=True)]
            for i in frozen:
                new[i] = old[i]
            if tuple(new) != old:
                updates.append(
                    {"id": pk, **dict(zip(columns, new, strict=True)), "updated_at": self.now}
                )
                updated += 1
            elif not seen_before:
                unchanged += 1
        if done is not None:
            done.update(rows)
        if inserts:
            # Core, not ORM bulk insert: the ORM splits the rows into one statement per run
            # of rows with the same non-None keys (slow, and quadratic with RETURNING).
            table = model.__table__
            statement = insert(table).returning(table.c.id, table.c[key_name])
            for pk, key in self.session.execute(statement, inserts):
                ids[key] = pk
        if updates:
            self.session.execute(update(model), updates)
        report = self.report
        for suffix, count in (("created", created), ("updated", updated),
                              ("unchanged", unchanged)):  # fmt: skip
            attribute = f"{counter}_{suffix}"
            setattr(report, attribute, getattr(report, attribute) + count)
        return ids


def _first_filled(old: tuple[Any, ...] | None, new: tuple[Any, ...]) -> tuple[Any, ...]:
    """Field by field, the old value unless it is empty."""
    if old is None:
        return new
    return tuple(n if _empty(o) else o for o, n in zip(old, new, strict=True))
