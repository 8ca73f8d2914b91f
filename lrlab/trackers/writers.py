"""The two trackers lrlab writes to, behind one small interface: a run opened with its name,
parent, params and tags, scalars at a step, text tags, files, and its end. Each library is
imported only when a job logs to it (`lrlab[tensorboard]`, `lrlab[mlflow]`); a missing one is
one sentence naming the extra.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from lrlab.core.errors import LrlabError
from lrlab.core.tracking_targets import Target

EXPERIMENT = "lrlab"  # the MLflow experiment every job is logged under
JOB_TAG = "lrlab.job"  # the store's job id, on every MLflow run (a ladder's children find it)
Row = tuple[int, Mapping[str, float], float]  # (step, {name: value}, report time)
MLFLOW_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


class Writer(Protocol):
    """One run in one tracker."""

    def scalars(self, rows: Sequence[Row]) -> None: ...

    def tags(self, values: Mapping[str, str]) -> None: ...

    def file(self, name: str, data: bytes) -> None: ...

    def hparams(self, params: Mapping[str, float | str], metrics: Mapping[str, float]) -> None:
        ...

    def close(self, status: str) -> None: ...


def load_library(tracker: str) -> None:
    """Import a tracker's library, in the thread that starts the job: a worker's warm child
    may still be importing torch in another thread, and two threads importing one package at
    once can see it half made. A missing package is one sentence naming the extra."""
    try:
        if tracker == "tensorboard":
            import tensorboard.compat.proto.summary_pb2  # noqa: F401
            import torch.utils.tensorboard  # noqa: F401
        else:
            import mlflow.entities
            import mlflow.tracking  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("tensorboard", "mlflow"):
            raise LrlabError(f"log_to: {tracker} is not installed; pip install "
                             f"'lrlab[{tracker}]'") from None
        raise


class TensorBoardWriter:
    """An event file under DIR/<run> (a ladder's points under DIR/check-<id>/), read by
    TensorBoard's scalars, text, images and HParams dashboards."""

    def __init__(self, target: Target, run: str, params: Mapping[str, str]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(target.location()) / run
        self.writer = SummaryWriter(log_dir=str(self.folder))
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in params.items()), 0)

    def scalars(self, rows: Sequence[Row]) -> None:
        """One event per step holding all its values (what add_scalar writes one by one, at a
        tenth of the cost: the training loop shares the interpreter with this thread)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        events = self.writer._get_file_writer()
        for step, values, when in rows:
            summary = Summary(value=[Summary.Value(tag=k, simple_value=v)
                                     for k, v in values.items()])
            events.add_summary(summary, step, when)

    def tags(self, values: Mapping[str, str]) -> None:
        for key, value in values.items():
            self.writer.add_text(key, value, 0)

    def file(self, name: str, data: bytes) -> None:
        if name.endswith(".png"):
            import numpy as np
            from PIL import Image

            with Image.open(io.BytesIO(data)) as image:
                pixels = np.asarray(image.convert("RGB"))
            self.writer.add_image(name.removesuffix(".png"), pixels, 0, dataformats="HWC")
        else:
            self.writer.add_text(name, "    " + data.decode().replace("\n", "\n    "), 0)

    def hparams(self, params: Mapping[str, float | str], metrics: Mapping[str, float]) -> None:
        self.writer.add_hparams(dict(params), dict(metrics), run_name=".")

    def close(self, status: str) -> None:
        self.writer.add_text("status", status, 0)
        self.writer.close()


def mlflow_client(target: Target) -> Any:
    """An MLflow client for the target's URI; the `lrlab` experiment's id with it."""
    for key, value in MLFLOW_RETRIES.items():  # an unreachable server fails fast
        os.environ.setdefault(key, value)
    from mlflow.tracking import MlflowClient

    uri = target.location()
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return client, experiment.experiment_id
    return client, client.create_experiment(EXPERIMENT, artifact_location=artifact_root(uri))


def artifact_root(uri: str) -> str | None:
    """Where a new experiment keeps its files: beside a database URI's file (MLflow's own
    default is ./mlruns in whatever folder the job runs in); a server chooses its own."""
    if uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///")).expanduser()
        return (database.parent.resolve() / f"{database.stem}-artifacts").as_uri()
    return None


class MlflowWriter:
    """A run in the ``lrlab`` experiment of a tracking URI (a server, or an SQLite file), tagged
    with its job; a ladder's points are nested under the ladder's run."""

    def __init__(self, client: Any, run_id: str) -> None:
        self.client, self.run_id = client, run_id

    @classmethod
    def start(cls, target: Target, run: str, params: Mapping[str, str],
              tags: Mapping[str, str], parent: str | None = None) -> MlflowWriter:
        client, experiment = mlflow_client(target)
        extra = {"mlflow.parentRunId": parent} if parent else {}
        writer = cls(client, client.create_run(experiment, run_name=run,
                                               tags={**tags, **extra}).info.run_id)
        writer.params(params)
        return writer

    @classmethod
    def attach(cls, target: Target, run_id: str, params: Mapping[str, str]) -> MlflowWriter:
        writer = cls(mlflow_client(target)[0], run_id)
        writer.params(params)
        return writer

    def params(self, params: Mapping[str, str]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):  # MLflow takes 100 params a batch
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def scalars(self, rows: Sequence[Row]) -> None:
        from mlflow.entities import Metric

        metrics = [Metric(k, float(v), int(when * 1000), step)
                   for step, values, when in rows for k, v in values.items()]
        for start in range(0, len(metrics), 1000):  # MLflow takes 1000 metrics a batch
            self.client.log_batch(self.run_id, metrics=metrics[start:start + 1000])

    def tags(self, values: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(self.run_id, tags=[RunTag(k, v[:8000]) for k, v in values.items()])

    def file(self, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            self.client.log_artifact(self.run_id, str(path))

    def hparams(self, params: Mapping[str, float | str], metrics: Mapping[str, float]) -> None:
        """MLflow has no HParams view: the peak LR is a param of the point already, and the
        objective is kept as a metric the parent's chart compares across its children."""
        self.scalars([(0, {f"hparams/{k}": v for k, v in metrics.items()}, time.time())])

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, {"succeeded": "FINISHED", "failed": "FAILED",
                                                 "cancelled": "KILLED"}.get(status, "FINISHED"))


def ladder_run(target: Target, ladder: int) -> str:
    """The MLflow run of ladder `ladder` (tagged with its job id), made if none is. Points on
    parallel workers may each make one; all then use the earliest, and one made here that is
    not the earliest is deleted."""
    client, experiment = mlflow_client(target)
    query = f"tags.`{JOB_TAG}` = '{ladder}' and tags.`lrlab.kind` = 'check'"

    def found() -> list[Any]:
        return sorted(client.search_runs([experiment], query),
                      key=lambda r: (r.info.start_time, r.info.run_id))

    runs = found()
    if runs:
        return runs[0].info.run_id
    mine = MlflowWriter.start(target, f"check-{ladder}", {},
                              {JOB_TAG: str(ladder), "lrlab.kind": "check"}).run_id
    first = found()[0].info.run_id
    if first != mine:
        client.delete_run(mine)
    return first


def as_text(value: Any) -> str:
    """A param or tag's text: JSON for anything but a string."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
