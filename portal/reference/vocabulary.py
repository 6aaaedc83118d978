"""The words of a slot search: modalities, "available within" windows, slot kinds.

One table each, read by the slot calendar (``portal.slots.calendar``), the search
filters and their "why is nothing shown" sentences (``portal.search.filters``),
the search form (``portal.views.search``) and the templates (``modality`` filter,
``MODALITY_ICONS``). It lives in ``reference`` because ``slots`` sits left of
``search`` and both need it. Pure data: no database, no Flask.
"""

from __future__ import annotations

from typing import Final

#: Modalities of a slot, as in the normalised slot (ActCode AMB / VR / HH).
MODALITIES: Final = ("cabinet", "teleconsultation", "domicile")
MODALITY_LABELS: Final = {
    "cabinet": "Cabinet",
    "teleconsultation": "Téléconsultation",
    "domicile": "Visite à domicile",
}
#: One letter drawn beside a slot's time (the label follows for screen readers).
MODALITY_ICONS: Final = {"cabinet": "C", "teleconsultation": "T", "domicile": "D"}

#: "Available within" choices: URL value (``dispo``) -> (from, to) hours after now.
WITHIN_WINDOWS: Final = {
    "0-4": (0, 4),
    "4-8": (4, 8),
    "8-12": (8, 12),
    "12-24": (12, 24),
    "24-48": (24, 48),
    "48-72": (48, 72),
}
ANY_WINDOW_LABEL: Final = "Peu importe"

#: Slot kinds (TRE_R314 visibility): the form's label, then the word used in a sentence.
SLOT_KIND_LABELS: Final = {
    "public": ("Grand public", "public"),
    "pro": ("Professionnels", "professionnels"),
    "sas": ("Réservé SAS", "réservés SAS"),
    "cpts": ("CPTS", "CPTS"),
}


def modality_label(modality: str) -> str:
    """``"Visite à domicile"`` for ``"domicile"``; an unknown code as it is."""
    return MODALITY_LABELS.get(modality, modality)


def window_label(window: str) -> str:
    """``"0–4 h"`` for ``"0-4"`` (a known window)."""
    start, end = WITHIN_WINDOWS[window]
    return f"{start}–{end} h"


def window_choices() -> tuple[tuple[str, str], ...]:
    """The search form's "available within" choices, "any" first."""
    return (("", ANY_WINDOW_LABEL), *((w, window_label(w)) for w in WITHIN_WINDOWS))


def modality_choices() -> tuple[tuple[str, str], ...]:
    """The search form's modality choices."""
    return tuple((m, MODALITY_LABELS[m]) for m in MODALITIES)


def slot_kind_choices() -> tuple[tuple[str, str], ...]:
    """The search form's slot-kind choices."""
    return tuple((kind, labels[0]) for kind, labels in SLOT_KIND_LABELS.items())


def slot_kind_word(kind: str) -> str:
    """``"réservés SAS"`` for ``"sas"``, as a filter sentence says it."""
    labels = SLOT_KIND_LABELS.get(kind)
    return labels[1] if labels else kind
