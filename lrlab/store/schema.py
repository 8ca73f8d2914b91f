"""The store's tables: jobs, their metrics, the live workers, and the schema's version."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 1
SCOPES = ("step", "epoch")

metadata = sa.MetaData()

meta_table = sa.Table(
    "lrlab_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

jobs_table = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("progress", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("worker", sa.String(128)),
    sa.Column("heartbeat", sa.Float),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("metric_seq", sa.Integer, nullable=False),  # last seq handed out for this job
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("started", sa.Float),
    sa.Column("finished", sa.Float),
    sa.Index("ix_jobs_status_id", "status", "id"),
    # Never reuse the id of a deleted job: a bookmarked job URL must not open someone else's job.
    sqlite_autoincrement=True,
)

metrics_table = sa.Table(
    "metrics",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(8), nullable=False),  # "step" | "epoch"
    sa.Column("step", sa.Integer, nullable=False),  # the step or epoch number
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("value", sa.Float),  # NULL stands for NaN (SQLite cannot store NaN)
    sa.Column("time", sa.Float, nullable=False),
)

workers_table = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("device", sa.String(255), nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # idle | busy | stopped
    sa.Column("job_id", sa.Integer),
)
