"""Migrations: the same Alembic scripts build the schema on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from portal import db, migrate
from portal.models import Base, PlaceOfPractice, Practitioner


def test_migrations_match_models_and_are_at_head(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        engine = db.engine()
        assert migrate.is_up_to_date(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], "models changed without a migration"


def test_downgrade_to_base_and_upgrade_again(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        engine = db.engine()
        migrate.downgrade(engine, "base")
        assert "practitioners" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        assert "practitioners" in inspect(engine).get_table_names()


def test_cli_db_upgrade_is_idempotent(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "déjà à jour" in result.output
    result = runner.invoke(args=["db", "current"])
    assert "à jour" in result.output


def test_times_are_stored_utc_and_read_back_aware(app) -> None:  # type: ignore[no-untyped-def]
    paris_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 25, 17, 30, tzinfo=paris_winter)
    with app.app_context():
        s = db.session()
        p = Practitioner(national_id="810000000001", family_name="Essai", created_at=moment)
        s.add(p)
        s.commit()
        s.expire_all()
        stored = s.get(Practitioner, p.id)
        assert stored is not None
        assert stored.created_at == moment
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == timedelta(0)
        raw = s.execute(text("SELECT created_at FROM practitioners")).scalar_one()
        raw_text = str(raw)
        assert "16:30" in raw_text  # 17:30+01:00 stored as 16:30 UTC


def test_naive_datetimes_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        s.add(
            Practitioner(
                national_id="810000000002", family_name="Naïf", created_at=datetime(2026, 1, 1)
            )
        )
        with pytest.raises(Exception, match="naive"):
            s.commit()


def test_foreign_keys_are_enforced(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        s = db.session()
        s.add(
            PlaceOfPractice(
                activity_key="k1", practitioner_id=999_999, created_at=datetime.now(UTC)
            )
        )
        with pytest.raises(IntegrityError):
            s.commit()
