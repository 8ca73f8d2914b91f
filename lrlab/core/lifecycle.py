"""A job's life: its statuses (how long a silent worker is trusted is an option, in options).

In core, not in the store, so the CLI can offer these as choices without importing SQLAlchemy.
queued -> running -> succeeded | failed | cancelled; a queued job can also go straight to cancelled.
"""

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
