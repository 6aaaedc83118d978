"""One vocabulary for modalities, "available within" windows and slot kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.reference import vocabulary
from portal.search.filters import Filters, filter_labels, within_bounds
from portal.slots.calendar import modality_labels


def test_window_choices_follow_the_windows_in_order() -> None:
    assert vocabulary.window_choices() == (
        ("", "Peu importe"),
        ("0-4", "0–4 h"),
        ("4-8", "4–8 h"),
        ("8-12", "8–12 h"),
        ("12-24", "12–24 h"),
        ("24-48", "24–48 h"),
        ("48-72", "48–72 h"),
    )


def test_filter_bounds_and_sentences_read_the_same_table() -> None:
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    for window, (start, end) in vocabulary.WITHIN_WINDOWS.items():
        bounds = within_bounds(window, now)
        assert bounds is not None
        low, high = bounds
        assert high == now + timedelta(hours=end)
        assert low is None if start == 0 else low == now + timedelta(hours=start)
    labels = filter_labels(Filters("24-48", ("domicile", "cabinet"), False, ("sas", "pro")))
    assert within_bounds("0-3", now) is None
    assert labels == {
        "kinds": "Types de créneaux : réservés SAS, professionnels",
        "within": "Disponible entre 24 h et 48 h",
        "modalities": "Modalité : visite à domicile, cabinet",
    }


def test_modality_words_are_the_same_on_the_form_and_the_card() -> None:
    form = dict(vocabulary.modality_choices())
    assert form == vocabulary.MODALITY_LABELS
    assert modality_labels(["teleconsultation", "domicile"]) == (
        "Téléconsultation, Visite à domicile"
    )
    assert modality_labels(["inconnue"]) == "inconnue"
    assert set(vocabulary.MODALITY_ICONS) == set(vocabulary.MODALITIES)
    assert [label for _, label in vocabulary.slot_kind_choices()] == [
        "Grand public", "Professionnels", "Réservé SAS", "CPTS",
    ]  # fmt: skip
