"""Rebuild the compact ``code,label`` CSVs of ``portal/data/nos/`` from the NOS CodeSystems.

The portal reads only the CSVs at run time; this script documents (and can redo)
how they were produced from the FHIR CodeSystem JSON of the ANS national
terminologies (GitHub ``ansforge/IG-NOS``, ``ig/allNos2/``, commit ``b8b0cc32``)::

    python portal/data/build_nos.py /path/to/folder/with/CodeSystem-*.json

The label is the concept's ``display``. Retired concepts (a ``dateFin``
property) are kept on purpose: stored data and editors' payloads still carry
them and must keep a readable label.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

#: output file name -> source CodeSystem file name
SOURCES = {
    "specialties.csv": "CodeSystem-TRE-R38-SpecialiteOrdinale.json",
    "professions.csv": "CodeSystem-TRE-G15-ProfessionSante.json",
    "slot_kinds.csv": "CodeSystem-TRE-R314-TypeCreneau.json",
}

#: codes the SAS implementation guide uses but the 2022 NOS edition lacks.
#: ``CPTS`` and its display come from the guide's ValueSet
#: ``sas-cpts-valueset-typecreneau`` (IG-fhir-service-acces-aux-soins v1.2.0).
EXTRA_CODES = {
    "slot_kinds.csv": [("CPTS", "Créneau accessible par les CPTS")],
}

OUTPUT_DIR = Path(__file__).resolve().parent / "nos"


def concepts(codesystem: dict) -> list[tuple[str, str]]:
    """Flatten a CodeSystem's (possibly nested) concepts into ``(code, display)`` pairs."""
    pairs: list[tuple[str, str]] = []
    stack = list(reversed(codesystem.get("concept", [])))
    while stack:
        concept = stack.pop()
        pairs.append((concept["code"], concept.get("display", concept["code"]).strip()))
        stack.extend(reversed(concept.get("concept", [])))
    return pairs


def build(source_dir: Path, output_dir: Path = OUTPUT_DIR) -> dict[str, int]:
    """Write every CSV of :data:`SOURCES`; return the number of rows written per file."""
    output_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for out_name, json_name in SOURCES.items():
        codesystem = json.loads((source_dir / json_name).read_text(encoding="utf-8"))
        rows = concepts(codesystem)
        known = {code for code, _ in rows}
        rows += [(c, label) for c, label in EXTRA_CODES.get(out_name, []) if c not in known]
        with (output_dir / out_name).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["code", "label"])
            writer.writerows(rows)
        counts[out_name] = len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``build_nos.py SOURCE_DIR [OUTPUT_DIR]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if args else 2
    output_dir = Path(args[1]) if len(args) > 1 else OUTPUT_DIR
    for name, count in build(Path(args[0]), output_dir).items():
        print(f"{output_dir / name}: {count} codes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
