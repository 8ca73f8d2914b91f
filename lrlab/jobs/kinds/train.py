"""The training run job ("train"): lrlab.training.job trains an lrlab.train/4 config (the
built-in image classification, or a task)."""

from lrlab.jobs.kinds.declaration import Figure, Headline, JobKind

KIND = JobKind(
    name="train", title="short training run", short="training run",
    validate="lrlab.tasks.setups:validate_setup",
    run="lrlab.training.job:run_from_config", warm_up="lrlab.training.job:warm_up",
    takes_out_dir=True, setup_at="",
    headlines=(Headline("best top-1", ("summary", "best_val_top1"), words="top-1"),
               Headline("final top-1", ("summary", "final_val_top1")),
               Headline("objective", ("summary", "objective"), text=True),  # a task's
               Headline("final objective", ("summary", "final_objective"))),
    figures=(Figure("best val top-1", ("summary", "best_val_top1")),
             Figure("final val top-1", ("summary", "final_val_top1")),
             Figure("wall time (s)", ("summary", "wall_time_s")),
             Figure("images/s", ("summary", "images_per_s"))),
    page="training",
)
