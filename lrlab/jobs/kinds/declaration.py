"""What a job kind declares (see lrlab.jobs.kinds): one dataclass each kind's module fills in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headline:
    """A figure a list of jobs shows, read from the stored result by the database."""

    label: str  # the column's name, e.g. "best top-1"
    path: tuple[str, str]  # (section, key) in the result, e.g. ("summary", "best_val_top1")
    text: bool = False  # a word (a trust level), not a number
    words: str | None = None  # its name in a run's one-line result, when shorter ("LR")


@dataclass(frozen=True)
class Figure:
    """A figure of a finished job's result, by its path of keys (read in Python, not SQL)."""

    label: str  # e.g. "wall time (s)"
    path: tuple[str, ...]  # e.g. ("summary", "wall_time_s"); ("verdict",) at the top


@dataclass(frozen=True)
class JobKind:
    """One kind of job and everything the rest of lrlab needs to know of it."""

    name: str  # as stored in the jobs table
    title: str  # what a person calls it: "LR range test"
    short: str  # in a sentence that names one: "from range test #12"
    validate: str
    run: str | None = None
    warm_up: str | None = None  # job-independent start-up a waiting child pays in advance
    takes_out_dir: bool = False  # keeps a run folder under the artifact root
    setup_at: str | None = ""  # the config key holding its setup ("" the config itself; None: none)
    headlines: tuple[Headline, ...] = ()
    figures: tuple[Figure, ...] = ()  # what comparing finished runs of this kind shows
    page: str | None = None  # the app page (its url path) that shows one job of this kind
    listed: bool = True  # shown among the runs a person compares
    expand: str | None = None  # a group kind: the jobs it queues instead of running
    refresh: str | None = None  # a group kind: refresh(store, job) -> job, ended with them

    @property
    def is_group(self) -> bool:
        return self.expand is not None
