"""The house's rules: the import contracts, a light plugin import, package docstrings."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "portal"
DOMAIN_PACKAGES = ("directory", "identity", "slots", "agenda", "search", "booking", "stats")
SHARED = ("reference", "kit", "fhir", "testing", "devtools", "web")


def _fresh_interpreter(code: str, tmp_path: Path) -> dict[str, object]:
    """Run ``code`` in a new Python and return the JSON it prints last."""
    env = {**os.environ, "SAS_PORTAL_INSTANCE_PATH": str(tmp_path / "instance")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_import_contracts_hold() -> None:
    """``lint-imports`` (the contracts in pyproject.toml) is also run by ``make lint``.

    In its own process: import-linter configures logging, which would silence the
    loggers that later tests of the same worker read with ``caplog``.
    """
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_plugin_authors_import_does_not_load_the_web_app(tmp_path: Path) -> None:
    found = _fresh_interpreter(
        "import json, sys\n"
        "from portal import hookimpl, Slot, SlotQuery, ConnectorInfo\n"
        "import portal.kit, portal.fhir, portal.testing.conformance\n"
        "heavy = ('flask', 'sqlalchemy', 'portal.models', 'portal.app', 'portal.db')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy[:2]"
        " or m in heavy)))",
        tmp_path,
    )
    assert found == []


def test_create_app_is_still_reachable_from_the_package(tmp_path: Path) -> None:
    found = _fresh_interpreter(
        "import json, sys\n"
        "import portal\n"
        "app = portal.create_app({'TESTING': True})\n"
        "print(json.dumps({'flask': 'flask' in sys.modules, "
        "'devtools': sorted(m for m in sys.modules if m.startswith('portal.devtools'))}))",
        tmp_path,
    )
    assert found == {"flask": True, "devtools": []}  # the web app never loads devtools


def test_unknown_package_attributes_still_raise() -> None:
    import portal

    with pytest.raises(AttributeError):
        portal.no_such_thing  # noqa: B018


def test_hookspecs_import_only_the_contract() -> None:
    tree = ast.parse((ROOT / "hookspecs.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    portal_modules = {m for m in imported if m.split(".")[0] == "portal"}
    assert portal_modules <= {"portal.domain", "portal.errors", "portal.identifiers"}
    assert not {m.split(".")[0] for m in imported} & {"flask", "sqlalchemy", "connectors"}


@pytest.mark.parametrize("package", DOMAIN_PACKAGES + SHARED)
def test_every_package_says_what_lives_there_and_what_it_may_import(package: str) -> None:
    doc = ast.get_docstring(ast.parse((PORTAL / package / "__init__.py").read_text()))
    assert doc and len(doc) > 80, f"portal/{package}/__init__.py needs a docstring"
    assert "import" in doc, f"portal/{package}: say what it may import"


def test_services_are_gone() -> None:
    """One package per domain: the flat ``services`` room and ``auth`` are not back."""
    assert not (PORTAL / "services").exists()
    assert not (PORTAL / "auth").exists()


def _commit_calls(source: str) -> list[int]:
    """Line numbers of every ``<anything>.commit(...)`` call in ``source``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]


def test_the_commit_finder_sees_every_spelling() -> None:
    source = "db.session().commit()\ns = db.session()\ns.commit()\nx = s.commit\nx()\n"
    assert _commit_calls(source) == [1, 3]  # a bound method passed around is out of its reach


@pytest.mark.parametrize("module", sorted(p.name for p in (PORTAL / "views").glob("*.py")), ids=str)
def test_views_never_commit(module: str) -> None:
    """Views parse, call one service, render: the service owns its transaction."""
    found = _commit_calls((PORTAL / "views" / module).read_text())
    assert not found, f"portal/views/{module} commits at lines {found}: move it into the service"


# --- connectors: the public plugin API only (import-linter checks modules; this checks names too)

ALLOWED_PROJECT_MODULES = {
    "hookspecs",
    "portal",
    "portal.domain",
    "portal.errors",
    "portal.fhir",
    "portal.identifiers",
    "portal.kit",
    "portal.fhir.reader",
    "portal.fhir.references",
    "portal.fhir.validation",
}
ALLOWED_THIRD_PARTY = {"httpx"}
FORBIDDEN_STDLIB = {"os", "subprocess"}  # connectors never read the environment
CONNECTORS_DIR = ROOT / "connectors"
CONNECTORS = sorted(p.parent.name for p in CONNECTORS_DIR.glob("*/__init__.py"))


def forbidden_imports(package: str, connectors_dir: Path = CONNECTORS_DIR) -> list[str]:
    """Every import of ``connectors/<package>`` outside the public plugin API."""
    import portal

    problems: list[str] = []
    for path in sorted((connectors_dir / package).glob("*.py")):
        if path.name == "sandbox.py":  # the upstream simulator, not the connector
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            modules: list[tuple[str, tuple[str, ...]]]
            if isinstance(node, ast.Import):
                modules = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside the connector's own package
                    continue
                modules = [(node.module or "", tuple(a.name for a in node.names))]
            elif isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                problems.append(f"{path.name}:{node.lineno} reads the environment")
                continue
            else:
                continue
            for module, names in modules:
                top = module.split(".")[0]
                own = module == f"connectors.{package}" or module.startswith(
                    f"connectors.{package}."
                )
                if module == "__future__" or own or module in ALLOWED_PROJECT_MODULES:
                    if module == "portal" and set(names) - (set(portal.__all__) - {"create_app"}):
                        problems.append(f"{path.name}:{node.lineno} from portal import {names}")
                    continue
                if top in sys.stdlib_module_names and top not in FORBIDDEN_STDLIB:
                    continue
                if top in ALLOWED_THIRD_PARTY:
                    continue
                problems.append(f"{path.name}:{node.lineno} imports {module}")
    return problems


@pytest.mark.parametrize("package", CONNECTORS)
def test_connector_imports_only_the_public_plugin_api(package: str) -> None:
    files = {p.name for p in (CONNECTORS_DIR / package).glob("*.py")}
    assert files >= {"__init__.py", "client.py", "mapping.py", "sandbox.py"}
    assert forbidden_imports(package) == []


def test_the_in_repo_connectors_are_all_checked() -> None:
    assert {"cpts", "doctolib_like", "sos_medecins"} <= set(CONNECTORS)


def test_the_import_check_catches_forbidden_imports(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "client.py").write_text(
        "import os\nfrom flask import current_app\nfrom portal.models import Slot\n"
        "from portal import create_app\nfrom connectors.cpts import client\nx = os.environ\n"
    )
    assert len(forbidden_imports("bad", tmp_path)) == 6


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/conftest.py and tests/factories.py."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{a.name}" for a in node.names]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
            shared = [n for n in names if n.startswith("tests.test_")]
            found += [f"{path.name}:{node.lineno} {n}" for n in shared]
    assert not found
