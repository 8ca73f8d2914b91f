"""lrlab: choose learning rates and schedules, then check them with a short training run."""

__version__ = "0.1.0"
