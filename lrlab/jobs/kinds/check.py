"""The LR check job ("check"): a group of training runs at a ladder of LRs (lrlab.lr_check),
queued with it and ended by its refresh once they have all ended."""

from lrlab.jobs.kinds.declaration import Figure, Headline, JobKind

KIND = JobKind(
    name="check", title="LR check ladder", short="LR check",
    validate="lrlab.lr_check:validate_config",
    expand="lrlab.lr_check:children", refresh="lrlab.lr_check:refresh",
    setup_at="setup",
    headlines=(Headline("best top-1", ("best", "final_val_top1"), words="top-1"),
               Headline("objective", ("best", "objective"), text=True),  # top-1 or a task's
               Headline("final objective", ("best", "final_objective"))),
    figures=(Figure("best LR", ("best", "lr")),
             Figure("final val top-1", ("best", "final_val_top1")),
             Figure("verdict", ("verdict",))),
    page="check",
)
