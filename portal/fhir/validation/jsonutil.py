"""Reading the document, defensive accessors on raw JSON, and the empty-element scan.

The rules work on the raw JSON (not on parsed models), so that a document which
``fhir.resources`` rejects is still checked rule by rule: every accessor here
tolerates a value of the wrong type and answers "absent".
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from portal.fhir.validation.report import Collector

_EMPTY_DICT: Mapping[str, Any] = {}


class InputError(ValueError):
    """The document is not readable JSON (bad encoding, syntax error)."""


def load(data: bytes | str | Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The JSON value of ``data`` and the keys found duplicated in one object.

    :raises InputError: when ``data`` is not UTF-8 or not JSON.
    """
    if isinstance(data, Mapping):
        return data, []
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"le fichier n'est pas encodé en UTF-8 ({exc.reason})") from exc
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    try:
        value = json.loads(data.lstrip("\ufeff"), object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"JSON invalide, ligne {exc.lineno} colonne {exc.colno} : {exc.msg}"
        ) from exc
    return value, duplicates


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY_DICT


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def dicts(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """``(index, item)`` for the objects of a JSON array (other items skipped)."""
    for index, item in enumerate(as_list(value)):
        if isinstance(item, Mapping):
            yield index, item


def codings(concept: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    return dicts(as_dict(concept).get("coding"))


def fold(text: str) -> str:
    """Lower case, no accents, single spaces: for comparing free texts."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped).strip().lower()


def quote(value: Any, limit: int = 80) -> str:
    """A value as shown in a message: « value », shortened."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"« {text} »"


def scan_empty(value: Any, path: str, out: Collector) -> set[str]:
    """Report ``""``, ``[]``, ``{}``, ``null`` and blank strings anywhere under ``value``.

    FHIR forbids empty elements (an element has a value or children). Returns the
    locations reported, so that the structural pass does not report them twice.
    """
    found: set[str] = set()

    def walk(node: Any, where: str, in_array_with_extension: bool = False) -> None:
        if node is None:
            if not in_array_with_extension:
                found.add(where)
                out.error(where, "valeur null interdite en FHIR : omettez l'élément")
        elif isinstance(node, str):
            if node == "":
                found.add(where)
                out.error(where, "chaîne vide interdite en FHIR : omettez l'élément")
            elif not node.strip():
                found.add(where)
                out.error(where, "chaîne composée uniquement d'espaces : omettez l'élément")
        elif isinstance(node, list):
            if not node:
                found.add(where)
                out.error(where, "tableau vide interdit en FHIR : omettez l'élément")
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]", in_array_with_extension)
        elif isinstance(node, Mapping):
            if not node:
                found.add(where)
                out.error(where, "objet vide interdit en FHIR : omettez l'élément")
            for key, item in node.items():
                # ["a", null] is legal when "_key" carries the extension of the null item
                paired = isinstance(item, list) and f"_{key}" in node
                walk(item, f"{where}.{key}", paired)

    walk(value, path)
    return found


def child(path: str, key: str, index: int | None = None) -> str:
    """``child("Slot", "serviceType", 2)`` → ``"Slot.serviceType[2]"``."""
    return f"{path}.{key}" if index is None else f"{path}.{key}[{index}]"


def loc_from_parts(base: str, parts: Sequence[str | int]) -> str:
    """FHIRPath-like location from a pydantic error location."""
    where = base
    for part in parts:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where += f".{part}"
    return where
