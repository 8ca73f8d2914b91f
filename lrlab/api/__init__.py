"""The Python face of lrlab's three steps on your own task: `find`, `check`, `train` (see
lrlab.api.runs), each kept in the job store while it runs so the app shows it."""

from lrlab.api.runs import check, find, train

__all__ = ["check", "find", "train"]
