"""A throwaway PostgreSQL cluster for tests.

    with PgCluster() as pg:
        pg.create_database("portal_test")
        engine = sqlalchemy.create_engine(pg.url("portal_test"))

The cluster lives in a private temporary directory (data, unix socket, log),
listens on a free TCP port of 127.0.0.1 only, trusts every local connection as
the ``postgres`` role, runs without fsync, and is stopped (``-m immediate``)
and deleted on exit. ``initdb`` refuses to run as root, so when the tests run
as root every server command goes through ``runuser -u postgres --``.

This module has no test-framework dependency; ``psycopg`` is imported only by
the methods that connect.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "PgCluster",
    "PgClusterError",
    "find_pg_bin",
    "postgres_required",
    "require_pg_bin",
]

_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_ENV_PG_BIN = "SAS_PORTAL_PG_BIN"
_INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH, "
    "in `pg_config --bindir` or under /usr/lib/postgresql/*/bin. "
    "Install them with `make postgres-bin` (Debian: `apt-get install postgresql`) "
    f"or point {_ENV_PG_BIN} at their directory."
)


class PgClusterError(RuntimeError):
    """The throwaway cluster could not be created, started or used."""


# --------------------------------------------------------------------------- discovery


def _is_server_bindir(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in _SERVER_PROGRAMS)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/15/bin -> (15,) ; /usr/lib/postgresql/9.6/bin -> (9, 6)
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None.

    Looked for, in order: ``$SAS_PORTAL_PG_BIN``, ``pg_config --bindir``, the
    directory of ``initdb`` on PATH (symlinks resolved), then the newest
    ``/usr/lib/postgresql/<version>/bin``.
    """
    candidates: list[Path] = []
    if os.environ.get(_ENV_PG_BIN):
        candidates.append(Path(os.environ[_ENV_PG_BIN]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    for candidate in candidates:
        if _is_server_bindir(candidate):
            return candidate
    return None


def require_pg_bin() -> Path:
    """Like :func:`find_pg_bin` but raises :class:`PgClusterError` with an install hint."""
    found = find_pg_bin()
    if found is None:
        raise PgClusterError(_INSTALL_HINT)
    return found


def postgres_required() -> bool:
    """True when missing PostgreSQL must fail the tests rather than skip them.

    That is on CI (``CI`` is ``true``/``1``) or when ``SAS_PORTAL_REQUIRE_POSTGRES=1``.
    """
    ci = os.environ.get("CI", "").strip().lower()
    return ci in {"true", "1"} or os.environ.get("SAS_PORTAL_REQUIRE_POSTGRES", "").strip() == "1"


# --------------------------------------------------------------------------- helpers


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@functools.cache
def _utf8_c_locale() -> str:
    """``C.UTF-8`` when the system has it (proper ctype for accented text), else ``C``."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["locale", "-a"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
        names = {line.strip().lower() for line in out.splitlines()}
        if names & {"c.utf8", "c.utf-8"}:
            return "C.UTF-8"
    return "C"


def _others_can_traverse(path: Path) -> bool:
    """Whether a non-root user can reach ``path`` (every ancestor has o+x)."""
    for part in (path, *path.parents):
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _clean_env() -> dict[str, str]:
    # PG* variables of the developer's shell (PGDATA, PGPORT, PGHOST…) must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = _utf8_c_locale()
    return env


# --------------------------------------------------------------------------- the cluster


class PgCluster:
    """A private PostgreSQL server in a temporary directory (context manager).

    :param bindir: directory of the server binaries (default: :func:`find_pg_bin`).
    :param settings: extra ``-c name=value`` server settings.
    :param os_user: system user that owns and runs the cluster when we are root.
    :param base_dir: where to create the temporary directory (default: system temp dir).
    :param start_timeout: seconds ``pg_ctl -w`` waits for the server.
    """

    host = "127.0.0.1"
    user = "postgres"

    def __init__(
        self,
        bindir: Path | str | None = None,
        *,
        settings: Mapping[str, object] | None = None,
        os_user: str = "postgres",
        base_dir: Path | str | None = None,
        start_timeout: int = 60,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else require_pg_bin()
        if not _is_server_bindir(self.bindir):
            raise PgClusterError(f"{self.bindir} does not hold initdb, pg_ctl and postgres")
        self.settings = dict(settings or {})
        self.os_user = os_user
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.startup_seconds: float | None = None
        self._as_root = os.geteuid() == 0
        self._running = False

    # -- paths ---------------------------------------------------------------------------

    def _require_tmpdir(self) -> Path:
        if self.tmpdir is None:
            raise PgClusterError("the cluster is not started")
        return self.tmpdir

    @property
    def data_dir(self) -> Path:
        return self._require_tmpdir() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_tmpdir() / "sock"

    @property
    def log_path(self) -> Path:
        return self._require_tmpdir() / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    # -- connection strings -------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``dbname`` on this cluster."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self._require_port()}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string (for ``psycopg.connect``) of ``dbname``."""
        return f"host={self.host} port={self._require_port()} user={self.user} dbname={dbname}"

    def _require_port(self) -> int:
        if self.port is None:
            raise PgClusterError("the cluster is not started")
        return self.port

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> PgCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> PgCluster:
        """initdb + pg_ctl start; raises :class:`PgClusterError` with the log tail on failure."""
        if self._running:
            return self
        began = time.monotonic()
        self._make_tmpdir()
        try:
            self._initdb()
            last_error: PgClusterError | None = None
            for _attempt in range(3):  # a free port can be taken between probe and bind
                self.port = _free_port(self.host)
                try:
                    self._pg_ctl_start()
                    break
                except PgClusterError as exc:
                    last_error = exc
                    if "already in use" not in str(exc):
                        raise
            else:
                assert last_error is not None
                raise last_error
        except BaseException:
            if self.tmpdir is not None and (self.data_dir / "postmaster.pid").exists():
                self._pg_ctl_stop()
            self._remove_tmpdir()
            self.port = None
            raise
        self._running = True
        atexit.register(self.stop)
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the server (immediate mode) and delete its directory. Idempotent."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if self._running and self.tmpdir is not None:
            self._pg_ctl_stop()
        self._running = False
        self._remove_tmpdir()
        self.port = None

    # -- databases ----------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", **kwargs: Any):  # -> psycopg.Connection
        """A psycopg connection to ``dbname`` (autocommit unless told otherwise)."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.dsn(dbname), **kwargs)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """``CREATE DATABASE name [TEMPLATE template]``; returns :meth:`url` of it.

        A template makes per-test databases cheap: migrate one database once,
        then clone it (the template must have no open connection).
        """
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            query = sql.SQL("{} TEMPLATE {}").format(query, sql.Identifier(template))
        with self.connect("postgres") as conn:
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE IF EXISTS name WITH (FORCE)`` (closes its connections)."""
        from psycopg import sql

        with self.connect("postgres") as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- diagnostics --------------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, PgClusterError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty server log)"

    # -- internals ----------------------------------------------------------------------

    def _bin(self, name: str) -> str:
        return str(self.bindir / name)

    def _make_tmpdir(self) -> None:
        base = self.base_dir
        if base is None:
            base = Path(tempfile.gettempdir())
            if self._as_root and not _others_can_traverse(base):
                base = Path("/tmp")
        if self._as_root and not _others_can_traverse(base):
            raise PgClusterError(
                f"{base} is not reachable by the {self.os_user!r} user; pass base_dir="
            )
        self.tmpdir = Path(tempfile.mkdtemp(prefix="sas-pg-", dir=base))
        self.socket_dir.mkdir()
        if self._as_root:
            try:
                owner = pwd.getpwnam(self.os_user)
            except KeyError:
                self._remove_tmpdir()
                raise PgClusterError(
                    f"running as root but there is no {self.os_user!r} system user to run "
                    "PostgreSQL as (initdb refuses root); install the postgresql package "
                    "or run the tests as a normal user"
                ) from None
            for path in (self.tmpdir, self.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self.tmpdir.chmod(0o700)

    def _remove_tmpdir(self) -> None:
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def _command(self, argv: Sequence[str]) -> list[str]:
        if self._as_root:
            return ["runuser", "-u", self.os_user, "--", *argv]
        return list(argv)

    def _run(self, argv: Sequence[str], *, what: str, timeout: float) -> str:
        try:
            proc = subprocess.run(
                self._command(argv),
                cwd=self.tmpdir,  # runuser keeps the cwd: it must be readable by os_user
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PgClusterError(
                f"{what} timed out after {timeout:.0f}s\n--- server log ---\n{self.log_tail()}"
            ) from exc
        except OSError as exc:
            raise PgClusterError(f"{what} could not run: {exc}") from exc
        if proc.returncode != 0:
            raise PgClusterError(
                f"{what} failed (exit {proc.returncode})\n"
                f"--- output ---\n{(proc.stdout + proc.stderr).strip()}\n"
                f"--- server log ---\n{self.log_tail()}"
            )
        return proc.stdout

    def _initdb(self) -> None:
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                self.user,
                "--encoding=UTF8",
                f"--locale={_utf8_c_locale()}",
                "--no-sync",
            ],
            what="initdb",
            timeout=120,
        )

    def _server_options(self) -> str:
        settings: dict[str, object] = {
            "listen_addresses": self.host,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            **self.settings,
        }
        # pg_ctl hands this string to /bin/sh: quote what could hold spaces.
        parts = [f"-p {self.port}", f"-k {shlex.quote(str(self.socket_dir))}"]
        parts += [f"-c {shlex.quote(f'{name}={value}')}" for name, value in settings.items()]
        return " ".join(parts)

    def _pg_ctl_start(self) -> None:
        self._run(
            [
                self._bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(self.start_timeout),
                "-o",
                self._server_options(),
                "start",
            ],
            what="pg_ctl start",
            timeout=self.start_timeout + 30,
        )

    def _pg_ctl_stop(self) -> None:
        with contextlib.suppress(PgClusterError, OSError):
            self._run(
                [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
                what="pg_ctl stop",
                timeout=60,
            )
