"""Test factories: a default for every field, override what the test is about."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from jinja2_fragments.flask import render_block
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import Slot, hookimpl
from portal.models import PlaceOfPractice, Practitioner, Structure, Territory, User, UserRole
from portal.reference import geo
from portal.search.place import Place
from portal.search.service import SearchOutcome

_ids = itertools.count(1)


def add_practitioner(
    session: Session,
    *,
    family_name: str = "Fictif",
    given_name: str = "Test",
    insee: str = "47001",
    specialty: str | None = "SM54",
    dlat: float = 0.0,
    national_id: str | None = None,
    sas_participation: bool = False,
    phone: str = "05 00 00 00 00",
) -> Practitioner:
    """A practitioner with one place of practice at the centre of ``insee`` (+ ``dlat``°)."""
    commune = geo.get_index().by_insee(insee)
    assert commune is not None, insee
    n = next(_ids)
    practitioner = Practitioner(
        national_id=national_id or f"8990000{n:05d}",
        family_name=family_name,
        given_name=given_name,
        title="DR",
        specialty_code=specialty,
        sas_participation=sas_participation,
        is_demo=True,
    )
    session.add(practitioner)
    session.flush()
    session.add(
        PlaceOfPractice(
            activity_key=f"test-{practitioner.national_id}",
            practitioner_id=practitioner.id,
            address_line=f"{n} rue Fictive",
            postal_code=commune.postal_codes[0] if commune.postal_codes else "",
            insee_code=commune.insee,
            city=commune.name,
            department=commune.department,
            lat=commune.lat + dlat,
            lon=commune.lon,
            phone=phone,
        )
    )
    session.flush()
    return practitioner


def add_territories(session: Session, *departments: str) -> None:
    """The SAS territories ``SAS-<department>`` of ``departments``."""
    names = {"47": "Lot-et-Garonne", "92": "Hauts-de-Seine"}
    for dep in departments:
        session.add(Territory(code=f"SAS-{dep}", label=names.get(dep, dep), department=dep))
    session.flush()


def add_structure(session: Session, department: str = "47", **fields: Any) -> Structure:
    """A structure (SOS Médecins by default) in ``department``."""
    n = session.scalar(select(func.count()).select_from(Structure)) or 0
    values: dict[str, Any] = {
        "national_id": f"3{department}00000000{n:04d}",
        "kind": "SOS",
        "name": f"SOS Médecins {department}-{n}",
        "department": department,
        **fields,
    }
    structure = Structure(**values)
    session.add(structure)
    session.flush()
    return structure


def add_user(
    session: Session,
    *roles: str | tuple[str, dict[str, object]],
    email: str | None = None,
    national_id: str | None = None,
    family_name: str = "Utilisateur",
    given_name: str = "Test",
    **fields: object,
) -> User:
    """A user holding ``roles``; a role is a name or ``(name, {"territory_code": "SAS-47"})``."""
    n = next(_ids)
    user = User(
        email=email if email is not None else f"user{n}@example.test",
        national_id=national_id,
        family_name=family_name,
        given_name=given_name,
        **fields,
    )
    for role in roles:
        name, scope = (role, {}) if isinstance(role, str) else role
        user.roles.append(UserRole(role=name, **scope))  # type: ignore[arg-type]
    session.add(user)
    session.flush()
    return user


def login(client: FlaskClient, user: User, method: str = "local") -> None:
    """Put ``user``'s session in the test client's cookie (the login flows have their own tests)."""
    now = time.time()
    with client.session_transaction() as sess:
        sess.update({"uid": user.id, "auth_method": method, "login_at": now, "seen_at": now})


def client_for(app: Flask, user: User) -> FlaskClient:
    """A test client logged in as ``user``."""
    client = app.test_client()
    login(client, user)
    return client


def as_user(app: Flask, user_id: int) -> FlaskClient:
    """A test client logged in as the user of id ``user_id``."""
    from portal import db

    with app.app_context():
        user = db.session().get(User, user_id)
        assert user is not None, user_id
        return client_for(app, user)


def session_cookie(app: Flask, user: User, method: str = "local") -> dict[str, str]:
    """A signed session cookie for ``user``, for a real browser (Playwright ``add_cookies``)."""
    now = time.time()
    value = app.session_interface.get_signing_serializer(app).dumps(  # type: ignore[attr-defined]
        {"uid": user.id, "auth_method": method, "login_at": now, "seen_at": now, "_permanent": True}
    )
    return {"name": app.config["SESSION_COOKIE_NAME"], "value": value}


def render_results(app: Flask, outcome: SearchOutcome) -> str:
    """The results block of the search page for ``outcome`` (as the first paint renders it)."""
    from portal.views.search import live_ids, url_with

    with app.test_request_context("/recherche?insee=47001"):
        return render_block(
            "search/page.html",
            "results",
            outcome=outcome,
            form=outcome.request,
            specialty_label="Médecine générale",
            url_with=lambda **changes: url_with(outcome.request, **changes),
            live_ids=live_ids,
            fragment=True,
            token="abcd1234",
        )


#: Agen as the search resolves it (commune centre).
AGEN_PLACE = Place(
    label="Agen (47000)", lat=44.2, lon=0.62, insee="47001", department="47", precision="commune"
)


class DelayedEditor:
    """An inline connector of source ``source`` that answers after ``delay_s`` with one
    cabinet slot per target, two hours ahead; counts its calls (thread-safe)."""

    def __init__(self, source: str, delay_s: float) -> None:
        self.source = source
        self.delay_s = delay_s
        self.calls = 0
        self.lock = threading.Lock()

    @hookimpl
    def fetch_slots(self, query):  # type: ignore[no-untyped-def]
        with self.lock:
            self.calls += 1
        time.sleep(self.delay_s)
        return [
            Slot(
                source=self.source,
                id=f"{t.national_id}-1",
                practitioner=t.national_id,
                start=query.start + timedelta(hours=2),
                end=query.start + timedelta(hours=2, minutes=20),
                modalities=("cabinet",),
                booking_url=f"https://{self.source}.example/rdv",
            )
            for t in query.targets
        ]
