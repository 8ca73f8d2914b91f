"""Jobs logged where people already look: TensorBoard and MLflow, live as a job reports
(`tracking`), or afterwards from the store (`export_run`). What each kind logs:
lrlab.trackers.job_log; where to: lrlab.core.tracking_targets.
"""

from lrlab.trackers.export import export_run
from lrlab.trackers.job_log import LOGGED_KINDS, JobLog, TrackerWarning, metric_name
from lrlab.trackers.live import log_ended_ladder, tracking

__all__ = ["LOGGED_KINDS", "JobLog", "TrackerWarning", "export_run", "log_ended_ladder",
           "metric_name", "tracking"]
