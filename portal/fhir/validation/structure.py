"""Structural check: does the resource parse with the FHIR R4B models of ``fhir.resources``?

The package's default models are R5 and reject some of the guide's examples: the
R4B ones are used. A Bundle is parsed shell first (entries without their
resource), then resource by resource, because ``fhir.resources`` fails a whole
Bundle on the first bad element: this way every problem is reported, each with
its own location (``Bundle.entry[3].resource.meta.security[0].code``).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from portal.fhir.validation.jsonutil import as_list, loc_from_parts, quote
from portal.fhir.validation.report import Problem


@functools.cache
def model_class(resource_type: str) -> Any:
    """The R4B model class of ``resource_type``, or ``None`` when FHIR R4 has no such type."""
    from fhir.resources.R4B import get_fhir_model_class

    if not resource_type or not resource_type[0].isupper():
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, AttributeError, ImportError):
        return None


def is_resource_type(name: Any) -> bool:
    return isinstance(name, str) and model_class(name) is not None


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    loc = error.get("loc") or ()
    name = str(loc[-1]) if loc else ""
    value = error.get("input")
    msg = str(error.get("msg", ""))
    if kind == "extra_forbidden":
        return (
            f"élément inconnu {quote(name)} : il n'existe pas dans cette ressource FHIR R4 "
            "(faute de frappe, élément R5, ou donnée à porter par une extension)"
        )
    if kind == "missing":
        return "élément obligatoire absent (cardinalité minimale 1 dans FHIR R4)"
    if kind == "list_type":
        return f"un tableau JSON est attendu (valeur {quote(value)})"
    if kind in {"string_type", "int_type", "int_parsing", "bool_type", "bool_parsing"}:
        expected = _EXPECTED[
            {"string": "string", "int": "integer", "bool": "boolean"}[kind.split("_")[0]]
        ]
        return f"type JSON incorrect : {expected} (valeur {quote(value)})"
    if kind == "string_pattern_mismatch":
        return f"valeur {quote(value)} non conforme au format du type FHIR"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"valeur {quote(value)} hors limites (nombre positif attendu)"
    if kind == "fhir-validation-wrong-resource-type":
        return f"resourceType {quote(value)} inattendu à cet endroit"
    if kind == "model_type" or kind == "dict_type":
        return f"un objet JSON est attendu (valeur {quote(value)})"
    if kind == "value_error":
        if "does not match spec regex" in msg:
            what = msg.split("Value error, ", 1)[-1].split(" value", 1)[0].strip()
            label = {"Instant": "instant", "DateTime": "dateTime", "Date": "date"}.get(what, what)
            example = {
                "instant": "2024-06-12T16:40:00.000+02:00 (fuseau horaire obligatoire)",
                "dateTime": "2024-06-12 ou 2024-06-12T16:40:00+02:00",
                "date": "2024-06-12",
            }.get(label, "voir la spécification FHIR")
            return f"format {label} FHIR invalide : {quote(value)} (attendu par exemple {example})"
        if "Any of one field value is expected" in msg:
            return "choix [x] invalide : un seul élément value[x] (ou autre choix) est permis"
        return f"valeur invalide : {msg.removeprefix('Value error, ')}"
    return f"structure FHIR invalide ({kind}) : {msg}"


def _translate(exc: ValidationError, base: str) -> list[Problem]:
    problems = []
    for error in exc.errors():
        parts = [p for p in error.get("loc", ()) if isinstance(p, str | int)]
        if parts and parts[0] == "resource_type":
            parts = ["resourceType"]
        location = loc_from_parts(base, parts)
        problems.append(Problem(location, _message(error), "error"))
    return problems


_STRING_MARKERS = {"Date", "DateTime", "Instant", "Time", "EncodedBytes", "UuidVersion"}
_INTEGER_MARKERS = {"Integer", "PositiveInt", "UnsignedInt", "Integer64"}
_EXPECTED = {
    "string": "chaîne attendue",
    "integer": "nombre entier attendu",
    "decimal": "nombre attendu",
    "boolean": "booléen attendu (true ou false)",
}


def _unwrap(annotation: Any) -> tuple[str | None, Any]:
    """``(json kind, child model class or "resource")`` of a model field annotation."""
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in args if a is not type(None))
        elif origin is list:
            annotation = args[0]
        elif origin is typing.Annotated:
            marker = type(args[1]).__name__ if len(args) > 1 else ""
            if marker in _STRING_MARKERS:
                return "string", None
            if marker in _INTEGER_MARKERS:
                return "integer", None
            if marker == "Decimal":
                return "decimal", None
            return None, None
        else:
            break
    if annotation is bool:
        return "boolean", None
    if hasattr(annotation, "get_model_klass"):
        if getattr(annotation, "__name__", "") == "ResourceType":
            return None, "resource"
        return None, annotation.get_model_klass()
    return None, None


@functools.cache
def _fields(cls: Any) -> dict[str, tuple[str | None, Any]]:
    fields = {}
    for name, info in cls.model_fields.items():
        fields[info.alias or name] = _unwrap(info.annotation)
    return fields


def _json_kind_ok(kind: str, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_types(node: Mapping[str, Any], cls: Any, base: str) -> list[Problem]:
    """JSON types the models coerce silently (``"created": 7`` for a dateTime, ``"active":
    "yes"`` for a boolean): FHIR JSON requires the exact JSON type."""
    problems: list[Problem] = []
    fields = _fields(cls)
    for key, value in node.items():
        kind, child = fields.get(key, (None, None))
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            where = f"{base}.{key}" if index is None else f"{base}.{key}[{index}]"
            if item is None:
                continue
            if kind and not _json_kind_ok(kind, item):
                problems.append(
                    Problem(
                        where,
                        f"type JSON incorrect : {_EXPECTED[kind]} (valeur {quote(item)})",
                        "error",
                    )
                )
            elif isinstance(item, Mapping) and child is not None:
                target = model_class(item.get("resourceType")) if child == "resource" else child
                if target is not None and isinstance(item.get("resourceType", ""), str):
                    problems += _json_types(item, target, where)
    return problems


def check_resource(resource: Mapping[str, Any], base: str) -> list[Problem]:
    """Structural problems of one resource (its contained resources included)."""
    resource_type = resource.get("resourceType")
    cls = model_class(resource_type) if isinstance(resource_type, str) else None
    if cls is None:
        return [
            Problem(
                f"{base}.resourceType",
                f"resourceType {quote(resource_type)} inconnu en FHIR R4",
                "error",
            )
        ]
    problems: list[Problem] = []
    data = dict(resource)
    contained = resource.get("contained")
    if isinstance(contained, list):
        kept = []
        for index, item in enumerate(contained):
            if isinstance(item, Mapping) and not is_resource_type(item.get("resourceType")):
                problems.append(
                    Problem(
                        f"{base}.contained[{index}].resourceType",
                        "ressource contenue sans resourceType FHIR R4 valide "
                        f"({quote(item.get('resourceType'))})",
                        "error",
                    )
                )
            else:
                kept.append(item)
        data["contained"] = kept or None
        if data["contained"] is None:
            del data["contained"]
    typed = _json_types(data, cls, base)
    problems += typed
    flagged = {p.location for p in typed}
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        problems += [p for p in _translate(exc, base) if p.location not in flagged]
    except Exception as exc:  # fhir.resources raises KeyError & co. on odd input
        problems.append(Problem(base, f"analyse FHIR impossible : {exc!r}", "error"))
    return problems


def check_bundle_shell(bundle: Mapping[str, Any]) -> list[Problem]:
    """Structural problems of a Bundle outside its entries' resources."""
    shell = dict(bundle)
    entries = bundle.get("entry")
    if isinstance(entries, list):
        shell["entry"] = [
            {k: v for k, v in entry.items() if k != "resource"}
            if isinstance(entry, Mapping)
            else entry
            for entry in entries
        ]
        # an entry reduced to nothing would be reported as an empty object: keep a marker
        shell["entry"] = [e if e != {} else {"id": "x"} for e in shell["entry"]]
    return check_resource(shell, "Bundle")


def entry_resources(bundle: Mapping[str, Any]) -> list[tuple[int, Any]]:
    return [
        (index, entry.get("resource"))
        for index, entry in enumerate(as_list(bundle.get("entry")))
        if isinstance(entry, Mapping)
    ]
