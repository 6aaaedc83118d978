"""National identifiers: prefixes (TRE_G08) and check digits.

- IDNPS (practitioner, system ``urn:oid:1.2.250.1.71.4.2.1``): ``8`` + RPPS (11 digits),
  ``0`` + ADELI (9 characters); for regulators working in a hospital also
  ``3`` + FINESS + ``/`` + registry number (and the other TRE_G08 "structure /
  registre" prefixes ``1``, ``4``, ``5``, ``6``).
- IDNST (structure, system ``urn:oid:1.2.250.1.71.4.2.2``): ``1`` + FINESS (9),
  ``3`` + SIRET (14), ``4`` + RPPS-rang (RPPS + 3-digit rank, 14 digits, as the test
  kit checks), ``0`` + ADELI-rang.

RPPS, FINESS, SIREN and SIRET carry a Luhn check digit; some of the guide's
examples do not, so a failed check is only ever a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portal.fhir.validation.jsonutil import quote

_ADELI = r"(?:\d{2}|2[AB])\d{7}"
_FINESS = r"(?:\d{2}|2[AB])\d{7}"
_IDNPS_FORMS = "8+RPPS ou 0+ADELI"
_IDNST_FORMS = "1+FINESS, 3+SIRET, 4+RPPS-rang ou 0+ADELI-rang"

RPPS_IDNPS = re.compile(r"^8(\d{11})$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def luhn_ok(digits: str) -> bool:
    """Luhn check of a digit string (the last digit is the key)."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def siret_ok(siret: str) -> bool:
    """SIRET check: Luhn; La Poste's establishments (SIREN 356000000) may instead have a
    digit sum that is a multiple of 5."""
    if siret.startswith("356000000") and siret.isdigit() and sum(map(int, siret)) % 5 == 0:
        return True
    return luhn_ok(siret)


def finess_ok(finess: str) -> bool:
    """FINESS check (Luhn); Corsican numbers (2A/2B) are not checked."""
    return True if finess[:2] in {"2A", "2B"} else luhn_ok(finess)


@dataclass
class IdCheck:
    """Outcome of an identifier check: its kind when recognised, and messages."""

    kind: str | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _luhn_warning(label: str, number: str, value: str) -> str:
    return (
        f"clé de contrôle (Luhn) incorrecte pour le {label} {quote(number)} "
        f"(identifiant {quote(value)}) : vérifiez le numéro"
    )


def check_idnps(value: str, *, regulator: bool = False) -> IdCheck:
    """Check a prefixed practitioner id (IDNPS).

    :param regulator: also accept the "structure / registre" forms (``3`` + FINESS +
        ``/`` + number…) used for regulators who have no RPPS nor ADELI.
    """
    result = IdCheck()
    forms = _IDNPS_FORMS + (", ou 3+FINESS/n° de registre" if regulator else "")
    if match := RPPS_IDNPS.match(value):
        result.kind = "rpps"
        if not luhn_ok(match.group(1)):
            result.warnings.append(_luhn_warning("RPPS", match.group(1), value))
        return result
    if re.fullmatch(rf"0{_ADELI}", value):
        result.kind = "adeli"
        return result
    if regulator and (match := re.fullmatch(r"([13456])([0-9A-Za-z]+)/(\S+)", value)):
        prefix, number = match.group(1), match.group(2)
        result.kind = "registre"
        if prefix == "3":
            if not re.fullmatch(_FINESS, number):
                result.errors.append(
                    f"FINESS mal formé dans l'IDNPS {quote(value)} : 3 + FINESS (9 caractères) "
                    "+ / + n° de registre attendu"
                )
            elif not finess_ok(number):
                result.warnings.append(_luhn_warning("FINESS", number, value))
        elif prefix == "5" and not (number.isdigit() and len(number) == 14):
            result.errors.append(
                f"SIRET mal formé dans l'IDNPS {quote(value)} : 5 + SIRET (14 chiffres) "
                "+ / + n° de registre attendu"
            )
        return result
    if re.fullmatch(r"\d{11}", value):
        result.errors.append(
            f"identifiant IDNPS sans préfixe : {quote(value)} (attendu {forms}) — "
            f"un RPPS s'écrit 8{value}"
        )
    elif re.fullmatch(_ADELI, value):
        result.errors.append(
            f"identifiant IDNPS sans préfixe : {quote(value)} (attendu {forms}) — "
            f"un ADELI s'écrit 0{value}"
        )
    elif value.startswith("8"):
        result.errors.append(
            f"RPPS mal formé dans l'IDNPS {quote(value)} : 8 suivi de 11 chiffres attendu "
            f"({len(value) - 1} caractères après le préfixe)"
        )
    else:
        result.errors.append(f"identifiant IDNPS invalide : {quote(value)} (attendu {forms})")
    return result


def check_idnst(value: str) -> IdCheck:
    """Check a prefixed structure id (IDNST)."""
    result = IdCheck()
    if match := re.fullmatch(rf"1({_FINESS})", value):
        result.kind = "finess"
        if not finess_ok(match.group(1)):
            result.warnings.append(_luhn_warning("FINESS", match.group(1), value))
    elif match := re.fullmatch(r"3(\d{14})", value):
        result.kind = "siret"
        if not siret_ok(match.group(1)):
            result.warnings.append(_luhn_warning("SIRET", match.group(1), value))
    elif match := re.fullmatch(r"4(\d{11})(\d{3})", value):
        result.kind = "rpps-rang"
        if not luhn_ok(match.group(1)):
            result.warnings.append(_luhn_warning("RPPS", match.group(1), value))
    elif re.fullmatch(rf"0{_ADELI}\d{{1,4}}", value):
        result.kind = "adeli-rang"
    elif re.fullmatch(r"\d{9}|\d{14}|2[AB]\d{7}", value):
        what = "un FINESS s'écrit 1" if len(value) == 9 else "un SIRET s'écrit 3"
        result.errors.append(
            f"identifiant IDNST sans préfixe : {quote(value)} (attendu {_IDNST_FORMS}) — "
            f"{what}{value}"
        )
    elif value[:1] in {"1", "3", "4", "0"}:
        expected = {
            "1": "1 + FINESS (9 caractères)",
            "3": "3 + SIRET (14 chiffres)",
            "4": "4 + RPPS (11 chiffres) + rang (3 chiffres)",
            "0": "0 + ADELI (9 caractères) + rang",
        }[value[0]]
        result.errors.append(f"identifiant IDNST mal formé : {quote(value)} (attendu {expected})")
    else:
        result.errors.append(
            f"identifiant IDNST invalide : {quote(value)} (attendu {_IDNST_FORMS})"
        )
    return result
