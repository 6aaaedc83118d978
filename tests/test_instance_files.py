"""What the portal writes where: nothing for a listing, the secret key when serving;
``sas-portal demo`` keeps a third-party connector's configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import create_app
from portal.devtools.demo import merged_connectors

SCRIPT = Path(sys.executable).with_name("sas-portal")


def test_a_listing_writes_nothing_in_the_current_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAS_PORTAL_")}
    env["SAS_PORTAL_INSTANCE_PATH"] = "instance"  # relative: resolved in the current directory
    done = subprocess.run(
        [str(SCRIPT), "connectors"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "doctolib_like" in done.stdout
    assert list(tmp_path.iterdir()) == [], "a listing must not write into the current directory"


def test_the_secret_key_is_created_when_serving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    monkeypatch.setenv("SAS_PORTAL_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("SAS_PORTAL_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    assert not app.config["SECRET_KEY"] and not instance.exists()

    assert app.test_client().get("/healthz").status_code in (200, 503)
    secret = instance / "secret_key"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert app.config["SECRET_KEY"] == secret.read_text().strip() and len(secret.read_text()) == 64
    again = create_app({"TESTING": True, "DATABASE_URL": url})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]  # read, not created anew
    assert [p.name for p in instance.iterdir()] == ["secret_key"]


def test_demo_keeps_a_third_party_connector_section() -> None:
    instance = {
        "smart_bulk": {"manifest_url": "https://editeur.example/$bulk-publish"},
        "doctolib_like": {"editors": {"production": {"base_url": "https://prod.example"}}},
    }
    demo = {"doctolib_like": {"editors": {"editeur-a": {"base_url": "http://127.0.0.1:1"}}},
            "cpts": {"base_url": "http://127.0.0.1:2"}}  # fmt: skip
    merged = merged_connectors(instance, demo)
    assert merged == {
        "smart_bulk": {"manifest_url": "https://editeur.example/$bulk-publish"},
        "doctolib_like": {"editors": {"editeur-a": {"base_url": "http://127.0.0.1:1"}}},
        "cpts": {"base_url": "http://127.0.0.1:2"},
    }
    assert merged_connectors(None, demo) == demo


def test_the_package_ships_py_typed() -> None:
    """PEP 561: connectors type-checked against the installed portal see its hints."""
    import tomllib

    import portal

    root = Path(portal.__file__).parent
    assert (root / "py.typed").is_file()
    pyproject = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["portal"]
