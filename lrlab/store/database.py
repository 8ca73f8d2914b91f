"""The connection to the store's database: SQLite (a file, WAL) or PostgreSQL, one code path
through SQLAlchemy Core; transactions that write take the lock up front on SQLite."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from lrlab.core.errors import LrlabError
from lrlab.core.paths import lrlab_home
from lrlab.store.records import strict_json
from lrlab.store.schema import SCHEMA_VERSION, jobs_table, meta_table, metadata

_WRITE = "lrlab_write"  # execution option: start the SQLite transaction with BEGIN IMMEDIATE


def resolve_db_url(url: str | None = None) -> str:
    """The database to use: an explicit URL (--db), else $LRLAB_DB, else $LRLAB_HOME/lrlab.db."""
    if url:
        return url
    if os.environ.get("LRLAB_DB"):
        return os.environ["LRLAB_DB"]
    return f"sqlite:///{lrlab_home() / 'lrlab.db'}"


def _create_engine(url: str) -> tuple[Engine, URL]:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError as exc:
        raise LrlabError(
            f"database URL: cannot parse {url!r}; expected e.g. sqlite:////path/to/lrlab.db "
            "or postgresql+psycopg://user@host/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise LrlabError(
                "database URL: an in-memory SQLite database cannot be shared by the app and "
                "workers; give a file, e.g. sqlite:////path/to/lrlab.db"
            )
        folder = Path(database).expanduser().resolve().parent
        if not folder.is_dir():
            raise LrlabError(f"database URL: folder {folder} does not exist")
    elif backend != "postgresql":
        raise LrlabError(
            f"database URL: backend {backend!r} is not supported; use sqlite or postgresql"
        )
    try:
        engine = sa.create_engine(
            parsed, json_serializer=strict_json, pool_pre_ping=backend == "postgresql"
        )
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise LrlabError(
            f"database URL: no driver for {parsed.drivername!r} is installed ({exc})"
        ) from exc
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine, parsed


def _configure_sqlite(engine: Engine) -> None:
    """WAL (readers never block the writer), a busy timeout, and BEGIN issued by us.

    pysqlite's own transaction handling would begin lazily and let two processes both read the
    queue before either writes; owning BEGIN lets write transactions take the lock up front.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


WAL_PATIENCE_S = 30.0


def _use_wal(cursor: Any) -> None:
    """Switch a new database file to WAL (a setting the file keeps). Two processes opening a
    fresh store at once (the app and its worker, a notebook and a page) can both try; the
    switch needs the file to themselves, and SQLite answers "locked" at once rather than
    waiting out the busy timeout, so it is tried again until it is done or already is."""
    deadline = time.monotonic() + WAL_PATIENCE_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the other opener holds the file for a moment


class Database:
    """One database of the store, and the transactions its parts (jobs, metrics, workers) use.
    One per process (it owns a connection pool); a spawned child opens its own."""

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_db_url(url)
        self._engine, parsed = _create_engine(self.url)
        self.display_url = parsed.render_as_string(hide_password=True)
        self._ensure_schema()

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it holds the write lock from its start."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa_exc.OperationalError as exc:
            raise self._database_error(exc) from exc

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                yield conn
        except sa_exc.OperationalError as exc:
            raise self._database_error(exc) from exc

    def _database_error(self, exc: sa_exc.OperationalError) -> LrlabError:
        detail = " ".join(str(exc.orig).split())  # drivers' messages span lines; ours is one
        return LrlabError(f"database {self.display_url}: {detail}")

    def _ensure_schema(self) -> None:
        for attempt in range(2):
            try:
                with self._write() as conn:
                    metadata.create_all(conn)
                    version = conn.execute(
                        sa.select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                    ).scalar()
                    if version is None:
                        conn.execute(
                            meta_table.insert().values(
                                key="schema_version", value=str(SCHEMA_VERSION)
                            )
                        )
                    elif int(version) != SCHEMA_VERSION:
                        raise LrlabError(
                            f"database {self.display_url}: schema version {version}; this lrlab "
                            f"reads version {SCHEMA_VERSION}"
                        )
                return
            except (sa_exc.IntegrityError, sa_exc.ProgrammingError):
                # Another process created the schema at the same moment (PostgreSQL); look again.
                if attempt == 1:
                    raise

    def _get_row(self, conn: Connection, job_id: int) -> sa.Row:
        row = conn.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).first()
        if row is None:
            raise LrlabError(f"job {job_id}: no such job in {self.display_url}")
        return row
