"""The app's pages, in the order of work, declared once: app.py builds the navigation from this
table, Home lists it, and a job kind's page (lrlab.jobs.kinds) is named by its url path here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    script: str  # relative to the app's entry script
    title: str
    icon: str
    url_path: str
    summary: str  # what Home says of it


PAGES: tuple[PageInfo, ...] = (
    PageInfo("app_pages/lr_finder.py", "LR Finder", ":material/search:", "finder",
             "1. Run an LR range test on a worker and watch the loss-vs-LR curve grow; get "
             "suggestions from every known method, how far to trust them, and ready schedules. "
             "Or analyse a curve from torch-lr-finder, fastai or Lightning."),
    PageInfo("app_pages/check.py", "LR Check", ":material/stairs:", "check",
             "2. Train short runs at a ladder of LRs around the advice, in parallel, and see "
             "which LR trains best and how far the advice was from it."),
    PageInfo("app_pages/training.py", "Training", ":material/model_training:", "training",
             "3. A run with the Bag of Tricks (He et al. 2019): linear scaling, warmup, zero-γ, "
             "no bias decay, ResNet-D, cosine, label smoothing, mixup, distillation, with live "
             "charts."),
    PageInfo("app_pages/schedule_designer.py", "Schedule Designer", ":material/timeline:",
             "designer",
             "Design warmup, cosine, 1cycle, SGDR, step, cyclic, WSD and more; preview LR and "
             "momentum per step and overlay several. Export a versioned JSON/YAML config, code "
             "for your framework, and import a config back."),
    PageInfo("app_pages/runs.py", "Runs", ":material/history:", "runs",
             "Every range test, LR check and training run: open one, compare several (overlaid "
             "curves, config diff, accuracy table), cancel or delete."),
)
BY_URL_PATH = {page.url_path: page for page in PAGES}


def script_of(url_path: str) -> str:
    """The script of the page at `url_path` (what st.switch_page takes)."""
    return BY_URL_PATH[url_path].script
