"""``sas-portal bench ingest``, ``bench fanout`` and ``bench search``: measurements, printed.

The logic lives in ``portal/devtools/bench``; these commands parse options and print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

READER_TARGET = 10.0  # the tolerant reader should be at least this many times faster
OVERHEAD_TARGET_S = 0.050

if TYPE_CHECKING:
    from portal.devtools.bench import search as search_bench


def number(value: float, digits: int = 0) -> str:
    """French notation: ``12 345,6``."""
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",")


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{number(value, 1 if value < 100 and not value.is_integer() else 0)} ms"


def verdict(ok: bool) -> str:
    return "atteint" if ok else "NON atteint"


@click.group("bench")
def bench_cli() -> None:
    """Bancs d'essai : lecture des Bundles de créneaux, agrégation des éditeurs.

    Ils mesurent et affichent des chiffres ; ils ne vérifient rien (code de sortie 0).
    """


@bench_cli.command("ingest")
@click.option(
    "--slots",
    "slot_count",
    type=click.IntRange(1),
    default=100_000,
    show_default=True,
    help="Taille du grand Bundle, en créneaux (en plus du Bundle d'un lot national : 2 250).",
)
@click.option(
    "--repeat", type=click.IntRange(1), default=3, show_default=True, help="Essais par mesure."
)
def ingest_command(slot_count: int, repeat: int) -> None:
    from portal.devtools.bench import ingest as ingest_bench

    """Vitesse de lecture d'un Bundle INT_R01 : lecteur tolérant, modèles FHIR, json.loads.

    Génère des Bundles de la forme de l'exemple du guide (Slot → Schedule → Practitioner +
    PractitionerRole, Location contenue ; 30 créneaux par jour sur 3 jours par PS) : celui
    d'un lot national (25 PS, 2 250 créneaux) et un de --slots créneaux. Chacun est lu (a)
    par portal.fhir.read_bundle, (b) par les modèles fhir.resources R4B (Bundle complet),
    (c) par json.loads seul (le plancher). Meilleur temps sur --repeat essais.
    """
    sizes = sorted({ingest_bench.BATCH_SLOTS, slot_count})
    click.echo(
        "Lecture d'un Bundle INT_R01 (Slot → Schedule → Practitioner + PractitionerRole, "
        "Location contenue)"
    )
    click.echo(
        f"Meilleur temps sur {repeat} essai(s), médiane entre parenthèses ; débit au meilleur."
    )
    for size in sizes:
        result = ingest_bench.measure(size, repeat=repeat)
        ps = -(-size // (ingest_bench.DAYS * ingest_bench.SLOTS_PER_DAY))
        click.echo("")
        click.echo(
            f"Bundle de {number(size)} créneaux ({number(ps)} PS × 3 jours × 30 créneaux), "
            f"{number(result.size_bytes / 1e6, 1)} Mo"
        )
        rows = [
            ("(a) lecteur tolérant portal.fhir.read_bundle", result.reader),
            ("(b) modèles fhir.resources R4B (Bundle)", result.models),
            ("(c) json.loads seul (plancher)", result.json),
        ]
        for label, timing in rows:
            click.echo(
                f"  {label:<46} {ms(timing.best):>10} {'(' + ms(timing.median) + ')':<12}"
                f" {number(timing.slots_per_s):>9} créneaux/s"
            )
        reached = result.ratio >= READER_TARGET
        click.echo(
            f"  rapport (a)/(b) : {number(result.ratio, 1)}× plus rapide — objectif "
            f"≥ {number(READER_TARGET)}× : {verdict(reached)}"
        )
        floor = result.reader.best / result.json.best
        click.echo(f"  (a)/(c) : la lecture complète coûte {number(floor, 1)}× json.loads seul")


@bench_cli.command("fanout")
@click.option(
    "--practitioners",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Praticiens liés, répartis entre les éditeurs.",
)
@click.option(
    "--latency",
    type=click.FloatRange(0),
    default=0.2,
    show_default=True,
    help="Latence injectée dans chaque éditeur (s).",
)
@click.option(
    "--deadline",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="Délai accordé à chaque source (s).",
)
@click.option(
    "--editors", type=click.IntRange(2), default=4, show_default=True, help="Éditeurs simulés."
)
@click.option("--runs", type=click.IntRange(1), default=5, show_default=True, help="Mesures.")
@click.option(
    "--page-views",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Régulateurs ouvrant la même page de 20 cartes (0 : mesure sautée).",
)
@click.option(
    "--serve",
    "serve_seconds",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="Durée (s) de chaque phase du débit d'un serveur WSGI à 2 fils (0 : sautée).",
)
def fanout_command(
    practitioners: int,
    latency: float,
    deadline: float,
    editors: int,
    runs: int,
    page_views: int,
    serve_seconds: float,
) -> None:
    """Coût de l'agrégation des créneaux au-delà de l'attente des éditeurs.

    Lance --editors éditeurs doctolib_like simulés (un processus chacun, sur la boucle
    locale) avec --latency de latence, lie --practitioners praticiens entre eux dans une
    base SQLite jetable et mesure portal.slots.aggregation.refresh (après un tour de chauffe) :
    tous les éditeurs répondant, puis le dernier bloqué au-delà du délai (mode timeout).

    Puis --page-views régulateurs ouvrent la même page (requêtes reçues par les éditeurs,
    objectif : une par source et lot de 25 par seuil de fraîcheur) et, avec --serve, un
    vrai serveur WSGI à 2 fils sert /recherche/creneaux à 8 clients : recherches par
    seconde sans puis avec un éditeur bloqué.
    """
    from portal.devtools.bench import fanout as fanout_bench
    if latency >= deadline:
        raise click.BadParameter("la latence doit rester sous le délai", param_hint="--latency")
    click.echo(
        f"Agrégation : {editors} éditeurs doctolib_like simulés (un processus chacun, boucle "
        f"locale), {practitioners} praticiens liés, latence injectée {ms(latency)}, délai par "
        f"source {number(deadline, 1)} s"
    )
    click.echo(
        f"Chemin réel portal.slots.aggregation.refresh, base SQLite jetable ; "
        f"1 tour de chauffe puis {runs} mesure(s)."
    )
    result = fanout_bench.run(
        practitioners=practitioners,
        editor_count=editors,
        latency_s=latency,
        deadline_s=deadline,
        runs=runs,
        progress=lambda text: click.echo(f"  … {text}", err=True),
    )
    stats = result.stats

    def row(label: str, values: tuple[float, float], tail: str = "") -> None:
        click.echo(f"  {label:<46} {ms(values[0]):>10} {ms(values[1]):>10}{tail}")

    click.echo("")
    click.echo(f"{'Tous les éditeurs répondent':<48} {'médiane':>10} {'max':>10}")
    row("durée totale", stats([r.wall_s for r in result.healthy]))
    row("réponse de l'éditeur le plus lent", stats([r.slowest_s for r in result.healthy]))
    overhead = result.overhead
    target = f"   objectif < {ms(OVERHEAD_TARGET_S)} : {verdict(overhead[0] < OVERHEAD_TARGET_S)}"
    row("surcoût du portail (total − plus lent)", overhead, target)
    row("  dont diffusion seule (call_many, sans base)", result.fanout_overhead)
    cache = (overhead[0] - result.fanout_overhead[0], overhead[1] - result.fanout_overhead[1])
    row("  dont écriture du cache et commit (le reste)", cache)
    click.echo(f"  créneaux mis en cache par tour : {number(result.healthy[-1].slot_count)}")

    click.echo("")
    click.echo(f"{'Un éditeur bloqué au-delà du délai':<48} {'médiane':>10} {'max':>10}")
    row("durée totale", stats([r.wall_s for r in result.stalled]))
    row("au-delà du délai (total − délai)", result.beyond_deadline)
    click.echo(f"  attente enregistrée pour l'éditeur bloqué : {ms(result.stalled_wait)}")
    never_more = (
        result.stalled_wait <= deadline + 0.005
        and result.beyond_deadline[1] <= overhead[1] + OVERHEAD_TARGET_S
    )
    click.echo(
        f"  coût de l'éditeur bloqué : le délai, jamais plus : {'oui' if never_more else 'NON'}"
    )
    click.echo(
        "  (au-delà du délai : le portail traite les réponses reçues, rien n'attend le bloqué)"
    )
    if page_views:
        _page_views(page_views, editors, latency)
    if serve_seconds:
        _serving(serve_seconds, editors, latency)


def _page_views(views: int, editors: int, latency: float) -> None:
    from portal.devtools.bench import pageviews

    result = pageviews.page_views(
        views=views, editor_count=editors, latency_s=latency,
        progress=lambda text: click.echo(f"  … {text}", err=True),
    )  # fmt: skip
    click.echo("")
    click.echo(
        f"{views} régulateurs ouvrent la même page ({result.page_size} cartes, {editors} "
        f"éditeurs) : requêtes reçues par les éditeurs (portal.search.live.refresh_cards)"
    )
    target = f"objectif {result.expected} (une par source et lot de 25)"
    click.echo(
        f"  {views} vues simultanées : {result.at_once} requête(s) — {target} : "
        f"{verdict(result.at_once <= result.expected)}"
    )
    click.echo(f"    durée d'une vue : médiane {ms(sorted(result.at_once_s)[views // 2])}, "
               f"max {ms(max(result.at_once_s))}")  # fmt: skip
    click.echo(f"  {views} vues de plus sous le seuil de fraîcheur : {result.again} requête(s)")
    click.echo(
        f"  pour comparer, {views} vues successives sans seuil (SLOT_MIN_AGE_S=0) : "
        f"{result.no_threshold} requête(s)"
    )


def _serving(seconds: float, editors: int, latency: float) -> None:
    from portal.devtools.bench import pageviews

    phases = pageviews.serve(
        editor_count=editors, seconds=seconds, latency_s=latency,
        progress=lambda text: click.echo(f"  … {text}", err=True),
    )  # fmt: skip
    click.echo("")
    click.echo(
        "Débit d'un serveur WSGI à 2 fils (comme un worker gunicorn gthread --threads 2), "
        "8 clients, GET /recherche/creneaux de 20 cartes tirées parmi 100 ; délai 7 s, "
        "budget LIVE_REFRESH_BUDGET_S 2 s, seuil SLOT_MIN_AGE_S 60 s, disjoncteur coupé"
    )
    for phase in phases:
        latencies = sorted(phase.latencies) or [0.0]
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        click.echo(
            f"  {phase.label:<28} {number(phase.per_second, 1):>7} recherches/s  "
            f"(p95 {ms(p95)}, max {ms(latencies[-1])}, {phase.pending} « réponse attendue », "
            f"{phase.errors} erreur(s))"
        )
    ratio = phases[1].per_second / phases[0].per_second if phases[0].per_second else 0.0
    click.echo(f"  avec l'éditeur bloqué : {number(ratio * 100)} % du débit sans blocage")


@bench_cli.command("search")
@click.option(
    "--practitioners",
    type=click.IntRange(1),
    default=250_000,
    show_default=True,
    help="Praticiens de l'annuaire, répartis sur tous les départements.",
)
@click.option(
    "--slots",
    "slot_count",
    type=click.IntRange(0),
    default=2_000_000,
    show_default=True,
    help="Créneaux en cache sur les 72 h à venir.",
)
@click.option(
    "--searches", type=click.IntRange(1), default=200, show_default=True, help="Recherches."
)
@click.option(
    "--backend",
    type=click.Choice(["sqlite", "postgresql", "both"]),
    default="both",
    show_default=True,
    help="Base(s) mesurée(s).",
)
@click.option(
    "--postgres-url",
    default=None,
    help="Serveur PostgreSQL existant (une base jetable y est créée) ; "
    "défaut : une grappe jetable (PgCluster).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Garder la base construite dans ce dossier (fichier SQLite, pg_dump PostgreSQL).",
)
@click.option(
    "--profile/--no-profile",
    default=False,
    show_default=True,
    help="Profiler (cProfile + requêtes SQL) la recherche la plus lente.",
)
def search_command(
    practitioners: int,
    slot_count: int,
    searches: int,
    backend: str,
    postgres_url: str | None,
    keep: Path | None,
    profile: bool,
) -> None:
    """Temps serveur de la page de résultats sur un annuaire national (créneaux en cache).

    Construit dans une base jetable (fichier SQLite temporaire ; grappe PostgreSQL jetable)
    --practitioners praticiens sur tous les départements, leurs lieux d'exercice, leurs
    liaisons aux sources, --slots créneaux en cache sur 72 h et les dates de collecte ; puis
    mesure --searches recherches (adresse, point de carte, commune, département ; avec et
    sans filtres) par GET /recherche d'un régulateur connecté (client de test Flask, rendu
    de la page compris), après quelques recherches de chauffe : p50 / p95 / p99 / max.
    """
    from portal.devtools.bench import search as search_bench
    backends = ["sqlite", "postgresql"] if backend == "both" else [backend]
    queries = search_bench.mix(searches)
    spec = search_bench.spec_for(practitioners, slot_count)
    click.echo(
        f"Recherche : {number(practitioners)} praticiens, {number(slot_count)} créneaux en "
        f"cache (72 h), {number(searches)} recherches + {search_bench.WARMUP} de chauffe"
    )
    click.echo(
        "Temps serveur de GET /recherche (régulateur connecté, client de test Flask, "
        "1er lot de résultats depuis le cache, rendu compris)."
    )

    def say(text: str) -> None:
        click.echo(f"  … {text}", err=True)

    for name in backends:
        result = search_bench.run_backend(
            name,
            spec,
            queries,
            postgres_url=postgres_url,
            keep=keep,
            profile_slowest=profile,
            say=say,
        )
        _print_search(result)


def _print_search(result: search_bench.BackendResult) -> None:
    from portal.devtools.bench import search as search_bench

    label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[result.backend]
    build = result.build
    click.echo("")
    rows = ", ".join(f"{table} {number(n)}" for table, n in build.rows.items())
    click.echo(f"[{label}] jeu de données construit en {number(build.total_s, 1)} s : {rows}")
    slots_s = build.seconds.get("slots", 0.0)
    if slots_s:
        rate = build.rows.get("slots", 0) / slots_s
        click.echo(f"  créneaux : {number(slots_s, 1)} s ({number(rate)} lignes/s)")
    if result.kept:
        click.echo(f"  base gardée : {result.kept}")
    errors = [m for m in result.measures if m.status != 200]
    click.echo(f"[{label}] {'':<36} {'p50':>9} {'p95':>9} {'p99':>9} {'max':>9}")

    def row(title: str, values: list[float]) -> None:
        if not values:
            return
        p50, p95, p99, top = search_bench.percentiles(values)
        figures = "".join(f"{ms(v / 1000):>10}" for v in (p50, p95, p99, top))
        click.echo(f"  {title:<36}{figures}")

    row(f"toutes ({len(result.measures)})", result.times())
    for kind in search_bench.KINDS:
        values = result.times(kind)
        row(f"{kind} ({len(values)})", values)
    for filtered, title in ((False, "sans filtre"), (True, "avec filtres")):
        values = result.times(filtered=filtered)
        row(f"{title} ({len(values)})", values)
    p95 = search_bench.percentiles(result.times())[1]
    target = search_bench.TARGET_P95_MS
    click.echo(
        f"  objectif p95 < {number(target)} ms : {verdict(p95 < target and not errors)}"
        + (f" ({len(errors)} réponse(s) en erreur)" if errors else "")
    )
    shown = [m.shown for m in result.measures if m.shown is not None]
    totals = [m.total for m in result.measures if m.total is not None]
    with_slots = [m.with_slots for m in result.measures if m.with_slots is not None]
    if shown and totals:
        click.echo(
            f"  résultats : {number(sum(totals) / len(totals), 1)} praticiens par recherche en "
            f"moyenne, {number(sum(shown) / len(shown), 1)} cartes affichées"
            + (
                f", {number(sum(with_slots) / len(with_slots), 1)} avec créneaux"
                if with_slots
                else ""
            )
            + f", {sum(m.widened for m in result.measures)} rayon(s) élargi(s)"
        )
    slowest = sorted(result.measures, key=lambda m: m.ms, reverse=True)[:3]
    for m in slowest:
        click.echo(f"  lente : {ms(m.ms / 1000):>9}  {m.query.kind:<11} {m.query.url}")
    if result.profile:
        click.echo("")
        click.echo(f"[{label}] requêtes SQL de la recherche la plus lente (les plus longues) :")
        for duration, statement in result.statements[:8]:
            flat = " ".join(statement.split())
            click.echo(f"  {ms(duration / 1000):>9}  {flat[:300]}")
        click.echo(f"[{label}] profil cProfile (cumulé) :")
        click.echo(result.profile)
