"""The regulator's search in a real browser against the demo stack: the demo directory of
Lot-et-Garonne (47), the sandbox editors on loopback, the portal on a live server.

Screenshots of the results page and of the map are written to pytest-playwright's
output folder (``test-results/``, not committed) as artefacts of the run.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage, Page, expect

from portal import db, migrate
from portal.devtools.browser import LiveServer
from portal.devtools.demo import DemoSandboxes, start_sandboxes
from portal.devtools.demo_directory import generate_demo_directory
from portal.slots import aggregation as slots
from portal.testing.sandbox import Behaviour
from portal.web import plugins as app_plugins
from tests.conftest import dispose_engine, make_test_app
from tests.factories import add_user, session_cookie

pytestmark = pytest.mark.browser

STATIC = Path(__file__).parents[1] / "portal/static"
AXE = STATIC / "vendor/axe-core-4.14.1/axe.min.js"
#: the per-source deadline of the live refresh in these journeys
DEADLINE_S = 2.0
RESULTS = "/recherche?insee=47001&specialite=SM54"
STALLED = "doctolib_like:editeur-a"
#: slot links of the top-level cards (CPTS members are collapsed)
SLOTS = "#liste-resultats > li.result-card > .calendar a.slot"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, DemoSandboxes]]:
    """The demo directory of department 47, its sandboxes and a filled slot cache."""
    tmp = tmp_path_factory.mktemp("journeys")
    app = make_test_app(f"sqlite:///{tmp / 'journeys.sqlite3'}", tmp / "instance")
    with app.app_context():
        migrate.upgrade(db.engine())
        session = db.session()
        generate_demo_directory(session, ["47"])
        regulator = add_user(session, "regulateur")
        session.commit()
        sandboxes = start_sandboxes(session)
        app.config["CONNECTORS"] = sandboxes.connectors_config()
        app.config["CONNECTOR_DEADLINE_S"] = DEADLINE_S
        app.config["BREAKER_THRESHOLD"] = 100  # the stalled editor must stay asked
        # every page asks the editors (no freshness threshold: the cache was just filled)
        # and waits for them up to their deadline (the budget is tested in test_slots_*)
        app.config["SLOT_MIN_AGE_S"] = 0
        app.config["LIVE_REFRESH_BUDGET_S"] = DEADLINE_S + 1
        start, end = slots.window()
        slots.refresh_all(
            session, app_plugins.manager(), slots.bound_targets(session), start, end,
            slots.settings_from_config(app.config),
        )  # fmt: skip
        app.config["TEST_COOKIE"] = session_cookie(app, regulator)
    try:
        yield app, sandboxes
    finally:
        sandboxes.stop()
        dispose_engine(app)


@pytest.fixture
def server(stack: tuple[Flask, DemoSandboxes], page: Page) -> Iterator[LiveServer]:
    app, sandboxes = stack
    for sandbox in sandboxes.servers.values():
        sandbox.behaviour = Behaviour()
    with LiveServer(app) as live:
        page.context.add_cookies([{**app.config["TEST_COOKIE"], "url": live.url}])
        yield live


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Console errors and page errors (CSP violations are console errors)."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@pytest.fixture
def artefacts(pytestconfig: pytest.Config, delete_output_dir: None) -> Path:
    """pytest-playwright's output folder, once it has emptied it at the start of the run."""
    folder = Path(str(pytestconfig.getoption("--output") or "test-results"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _wait_live_refresh(page: Page, timeout_ms: float = 15_000) -> None:
    expect(page.locator("#actualisation-statut")).to_contain_text(
        "Créneaux actualisés", timeout=timeout_ms
    )


def _axe(page: Page, base_url: str) -> list[str]:
    # served by the portal itself: the strict CSP refuses injected inline scripts
    page.add_script_tag(url=base_url + "/static/" + AXE.relative_to(STATIC).as_posix())
    violations: list[str] = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
            const r = await axe.run(document, {runOnly: tags});
            return r.violations.map(v => `${v.id} (${v.impact}): ` +
                v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return violations


def test_regulator_sees_calendars_filled_from_the_sandbox_editors(  # type: ignore[no-untyped-def]
    page: Page, server: LiveServer, stack, console_errors: list[str], artefacts: Path
) -> None:
    _, sandboxes = stack
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(server.url + "/recherche")
    where = page.get_by_role("combobox", name="Commune, code postal ou code INSEE")
    where.click()
    where.press_sequentially("Agen", delay=20)
    expect(page.get_by_role("listbox", name="Communes proposées")).to_be_visible()
    where.press("ArrowDown")
    where.press("Enter")
    expect(where).to_have_value("Agen (47000)")
    page.get_by_label("Spécialité").select_option(label="Médecine générale")
    asked_before = {s: len(v.requests) for s, v in sandboxes.servers.items()}
    page.get_by_role("button", name="Rechercher").click()

    cards = page.locator("#liste-resultats > li.result-card")
    expect(cards.first).to_be_visible()
    assert "insee=47001" in page.url and "specialite=SM54" in page.url
    expect(page.locator(".results-summary")).to_contain_text("Agen (47000)")
    expect(page.locator(".results-summary")).to_contain_text("Centre de la commune")
    # calendars filled from the cache at once, then refreshed live from the editors
    expect(page.locator(SLOTS).first).to_be_visible()
    _wait_live_refresh(page)
    editors = [s for s in sandboxes.servers if s.startswith("doctolib_like:")]
    assert any(len(sandboxes.servers[s].requests) > asked_before[s] for s in editors)
    slot = page.locator(SLOTS).first
    expect(slot).to_have_attribute("target", "_blank")
    expect(slot).to_have_attribute("rel", "noopener")
    assert "chez l'éditeur" in (slot.get_attribute("title") or "")
    expect(page.locator("#resultats .calendar .freshness").first).to_contain_text("mis à jour")

    # the map: one marker per card of the page, the search circle, a scale; no tiles
    expect(page.locator("#carte-zone")).to_be_visible()
    markers = page.locator("#carte .map-marker")
    expect(markers).to_have_count(cards.count())
    expect(page.locator("#carte path.search-circle")).to_have_count(1)
    expect(page.locator("#carte .leaflet-control-scale")).to_be_visible()
    # hovering a card highlights its marker; activating a marker focuses its card
    first_id = cards.first.get_attribute("data-id")
    cards.first.hover()
    expect(page.locator(f'#carte .map-marker[data-id="{first_id}"]')).to_have_class(
        re.compile("is-active")
    )
    second = cards.nth(1)
    second_id = second.get_attribute("data-id")
    page.locator(f'#carte .map-marker[data-id="{second_id}"]').focus()
    page.keyboard.press("Enter")
    expect(second).to_be_focused()

    page.screenshot(path=str(artefacts / "recherche-resultats.png"))
    page.locator("#carte-zone").screenshot(path=str(artefacts / "recherche-carte.png"))

    # panning the map proposes a search around its centre
    relaunch = page.get_by_role("button", name="Relancer la recherche ici")
    expect(relaunch).to_be_hidden()
    page.locator("#carte").focus()
    page.keyboard.press("ArrowRight")
    expect(relaunch).to_be_visible()
    relaunch.click()
    page.wait_for_url(re.compile(r"lat=[\d.]+.*lon=[\d.]+.*rayon=|rayon=.*lat="))
    expect(page.locator(".results-summary")).to_contain_text("Zone de la carte")
    assert console_errors == []


def test_a_filter_narrows_the_list_without_reloading(  # type: ignore[no-untyped-def]
    page: Page, server: LiveServer, console_errors: list[str]
) -> None:
    page.goto(server.url + RESULTS)
    cards = page.locator("#liste-resultats > li.result-card")
    expect(cards.first).to_be_visible()
    before = page.locator(".results-summary strong").first.inner_text()
    page.evaluate("window.__sansRechargement = 'oui'")

    page.get_by_label("Téléconsultation").check()
    page.wait_for_url(re.compile(r"modalite=teleconsultation"))
    expect(page.locator(".results-summary strong").first).not_to_have_text(before)
    after = int(page.locator(".results-summary strong").first.inner_text())
    assert after < int(before)
    assert page.evaluate("window.__sansRechargement") == "oui"  # same document
    # only teleconsultation slots are shown, before and after the live refresh
    _wait_live_refresh(page)
    chips = page.locator(SLOTS)
    assert chips.count() > 0
    assert all("Téléconsultation" in (chip or "") for chip in chips.all_text_contents())
    # the URL reloads to the same filtered search
    page.reload()
    expect(page.get_by_label("Téléconsultation")).to_be_checked()
    # still the filtered search (the count itself may move: the live refresh has just
    # brought fresher slots into the cache the reloaded page reads)
    assert "modalite=teleconsultation" in page.url
    reloaded = int(page.locator(".results-summary strong").first.inner_text())
    assert reloaded < int(before)
    assert console_errors == []


def test_a_stalled_editor_does_not_delay_the_first_paint(  # type: ignore[no-untyped-def]
    page: Page, server: LiveServer, stack, console_errors: list[str]
) -> None:
    _, sandboxes = stack
    sandboxes.servers[STALLED].behaviour = Behaviour(mode="timeout", hang_s=30)
    started = time.monotonic()
    page.goto(server.url + RESULTS, wait_until="domcontentloaded")
    expect(page.locator("#liste-resultats > li.result-card").first).to_be_visible()
    expect(page.locator(SLOTS).first).to_be_visible()  # cached slots
    first_paint = time.monotonic() - started
    assert first_paint < 2.0, f"first paint took {first_paint:.2f} s"

    # then the live refresh gives up on the editor at its deadline and says so
    stale = page.locator("#resultats .badge.stale").filter(has_text="Éditeur A")
    expect(stale.first).to_contain_text("délai dépassé", timeout=(DEADLINE_S + 8) * 1000)
    expect(stale.first).to_contain_text("Source en échec")
    expect(page.locator("#actualisation-statut")).to_contain_text("Éditeur A (délai dépassé)")
    # sources by their label, never their id; no "mis à jour" beside a stale badge
    expect(page.locator("#resultats")).not_to_contain_text(STALLED)
    stale_lines = page.locator("#resultats .calendar .freshness:has(.badge.stale)")
    expect(stale_lines.first).to_be_visible()
    expect(stale_lines.filter(has_text="mis à jour")).to_have_count(0)
    # the other editors' slots are still there
    expect(page.locator(SLOTS).first).to_be_visible()
    assert console_errors == []


def _tab_until(page: Page, predicate: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
            return
    raise AssertionError(f"never reached: {predicate}")


def test_keyboard_only_journey(  # type: ignore[no-untyped-def]
    page: Page, server: LiveServer, console_errors: list[str]
) -> None:
    page.goto(server.url + "/recherche")
    _tab_until(page, "el.id === 'lieu'")
    page.keyboard.type("Agen", delay=30)
    listbox = page.get_by_role("listbox", name="Communes proposées")
    expect(listbox).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    where = page.locator("#lieu")
    expect(where).to_have_value("Agen (47000)")
    page.keyboard.press("Enter")  # the list is closed: Enter submits the search
    cards = page.locator("#liste-resultats > li.result-card")
    expect(cards.first).to_be_visible()
    # the count says what it counts: practitioners and sites, on how many cards
    expect(page.locator("#resultats-annonce")).to_contain_text(
        re.compile(r"\d+ professionnels ou structures sur \d+ fiches")
    )
    page.wait_for_url(re.compile("insee=47001"))

    # The live refresh swaps the calendars once after the first paint: let it land, so
    # the slot link focused below is not replaced under the keyboard.
    page.wait_for_load_state("networkidle")
    # Tab through the form and the filters to the first card
    _tab_until(page, "el.matches('#resultats li.result-card')")
    expect(cards.first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(cards.nth(2)).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("Home")
    expect(cards.first).to_be_focused()

    # into the focused card's calendar: Enter on a slot opens, in a new tab, the portal's
    # booking link, which asks the slot's connector and lands on the editor's page with
    # the portal's origin (so the editor knows the regulator came from the SAS)
    _tab_until(page, "el.matches('#resultats a.slot')")
    href = page.evaluate("document.activeElement.href")
    assert "/creneaux/" in href and href.endswith("/reserver")
    slot_id = href.rsplit("/", 2)[-2]
    with page.context.expect_page() as popup:
        page.keyboard.press("Enter")
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.url.split("?")[0].endswith(f"/rdv/{slot_id}")
    assert "origin=" in opened.url
    expect(opened.locator(".origin strong")).to_have_count(1)  # not "Aucune origine"
    opened.close()
    assert console_errors == []


def test_search_and_results_pages_pass_axe(  # type: ignore[no-untyped-def]
    page: Page, server: LiveServer, console_errors: list[str]
) -> None:
    page.goto(server.url + "/recherche")
    assert _axe(page, server.url) == []
    page.goto(server.url + RESULTS)
    expect(page.locator("#carte .map-marker").first).to_be_visible()
    _wait_live_refresh(page)
    groups = page.locator("details.cpts-members summary")
    if groups.count():
        groups.first.click()  # CPTS members shown too
    assert _axe(page, server.url) == []
    # the same once a filter has been applied through HTMX
    page.get_by_label("Participants au SAS seulement").check()
    page.wait_for_url(re.compile("sas=1"))
    _wait_live_refresh(page)
    assert _axe(page, server.url) == []
    assert console_errors == []
