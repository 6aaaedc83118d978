"""One table of slot-source states and their French labels (``portal.slots.states``)."""

from __future__ import annotations

from typing import get_args

from portal.slots import aggregation, states


def test_every_state_the_aggregation_can_report_has_one_label() -> None:
    reported = set(get_args(aggregation.SourceState))
    assert reported <= set(states.STATE_LABELS)
    assert set(get_args(states.SourceState)) == set(states.STATE_LABELS)
    assert set(states.STATE_LABELS) > states.PROBLEM_STATES
    assert "fresh" not in states.PROBLEM_STATES
    assert len(set(states.STATE_LABELS.values())) == len(states.STATE_LABELS)  # no two alike


def test_state_label() -> None:
    assert states.state_label("timeout") == "délai dépassé"
    assert states.state_label("failed") == "en échec"
    assert states.state_label("killed") == "coupée"
    assert states.state_label("inconnu") == "inconnu"
    assert states.state_label(None) == "—"
