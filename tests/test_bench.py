"""``sas-portal bench ingest`` / ``bench fanout`` run and print their figures.

Benchmarks measure; these tests only check that they work, with small sizes, and
that what they measure is realistic (the generated Bundle is valid for the guide).
No timing is asserted."""

from __future__ import annotations

import re

from click.testing import CliRunner, Result

from portal.commands.bench import bench_cli, ms, number
from portal.devtools.bench.ingest import BATCH_SLOTS, finess, generate_bundle, rpps
from portal.fhir import read_bundle
from portal.fhir.validation import validate
from portal.fhir.validation.identifiers import luhn_ok

FIGURE = r"[\d\u00a0 ]+(,\d)?"


def bench(*args: str) -> Result:
    return CliRunner().invoke(bench_cli, list(args))


def test_every_command_has_help() -> None:
    for args in ([], ["ingest"], ["fanout"]):
        result = bench(*args, "--help")
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
    assert "--slots" in bench("ingest", "--help").output
    fanout_help = bench("fanout", "--help").output
    assert all(o in fanout_help for o in ("--practitioners", "--latency", "--deadline"))


def test_generated_bundle_is_a_valid_int_r01_searchset_read_in_full() -> None:
    data = generate_bundle(200)
    report = validate(data)
    assert report.valid and not report.warnings, [p.message for p in report.problems][:3]
    result = read_bundle(data, source="bench", flow="ps")
    assert len(result.slots) == 200 and not result.warnings
    assert len({s.practitioner for s in result.slots}) == 3  # 90 slots per practitioner
    assert all(s.start.utcoffset() is not None and s.address for s in result.slots)
    assert BATCH_SLOTS == 2250


def test_identifiers_carry_their_luhn_key() -> None:
    assert all(luhn_ok(rpps(n)) and len(rpps(n)) == 11 for n in (0, 12, 99_999))
    assert all(luhn_ok(finess(n)) and len(finess(n)) == 9 for n in (0, 12, 99_999))


def test_ingest_prints_the_three_throughputs_and_the_ratio() -> None:
    result = bench("ingest", "--slots", "300", "--repeat", "1")

    assert result.exit_code == 0, result.output
    out = result.output
    assert "Bundle de 300 créneaux (4 PS × 3 jours × 30 créneaux)" in out
    assert "Bundle de 2 250 créneaux (25 PS × 3 jours × 30 créneaux)" in out
    for label in (
        "(a) lecteur tolérant portal.fhir.read_bundle",
        "(b) modèles fhir.resources R4B (Bundle)",
        "(c) json.loads seul (plancher)",
    ):
        assert len(re.findall(re.escape(label) + rf".* ms .*{FIGURE} créneaux/s", out)) == 2
    ratios = re.findall(rf"rapport \(a\)/\(b\) : {FIGURE}× plus rapide — objectif ≥ 10× : ", out)
    assert len(ratios) == 2
    assert (
        len(re.findall(rf"\(a\)/\(c\) : la lecture complète coûte {FIGURE}× json.loads seul", out))
        == 2
    )


def test_fanout_prints_wall_time_overhead_and_the_stalled_editor_cost() -> None:
    result = bench(
        "fanout",
        *("--practitioners", "8", "--editors", "2", "--runs", "1", "--page-views", "0"),
        *("--latency", "0.05", "--deadline", "0.4"),
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert "2 éditeurs doctolib_like simulés" in out and "8 praticiens liés" in out
    assert "latence injectée 50 ms, délai par source 0,4 s" in out
    for label in (
        "durée totale",
        "réponse de l'éditeur le plus lent",
        "surcoût du portail (total − plus lent)",
        "dont diffusion seule (call_many, sans base)",
        "au-delà du délai (total − délai)",
    ):
        assert re.search(re.escape(label) + rf"\s+{FIGURE} ms\s+{FIGURE} ms", out), label
    assert re.search(r"objectif < 50 ms : (atteint|NON atteint)", out)
    assert "attente enregistrée pour l'éditeur bloqué : 400 ms" in out
    assert re.search(r"coût de l'éditeur bloqué : le délai, jamais plus : (oui|NON)", out)
    assert re.search(rf"créneaux mis en cache par tour : {FIGURE}", out)


def test_fanout_counts_the_upstream_requests_of_identical_page_views_and_serves() -> None:
    """Single flight and freshness threshold, counted by the sandboxes: exact counts."""
    result = bench(
        "fanout",
        *("--practitioners", "2", "--editors", "2", "--runs", "1", "--page-views", "5"),
        *("--latency", "0.05", "--deadline", "0.4", "--serve", "1"),
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert "5 régulateurs ouvrent la même page (20 cartes, 2 éditeurs)" in out
    assert "5 vues simultanées : 2 requête(s) — objectif 2 (une par source et lot" in out
    assert "lot de 25) : atteint" in out
    assert "5 vues de plus sous le seuil de fraîcheur : 0 requête(s)" in out
    assert "5 vues successives sans seuil (SLOT_MIN_AGE_S=0) : 10 requête(s)" in out
    for label in ("tous les éditeurs répondent", "un éditeur bloqué"):
        assert re.search(re.escape(label) + rf"\s+{FIGURE} recherches/s .*, 0 erreur\(s\)\)", out)
    assert re.search(rf"avec l'éditeur bloqué : {FIGURE} % du débit sans blocage", out)


def test_fanout_refuses_a_latency_beyond_the_deadline() -> None:
    result = bench("fanout", "--latency", "2", "--deadline", "1")
    assert result.exit_code == 2
    assert "la latence doit rester sous le délai" in result.output


def test_figures_are_written_the_french_way() -> None:
    assert number(12345.67, 1) == "12 345,7"
    assert ms(0.05) == "50 ms" and ms(0.0123) == "12,3 ms" and ms(1.5) == "1 500 ms"
