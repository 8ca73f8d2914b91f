"""A notebook's range test, seen live in the app: `lrlab.find` runs in a process of its own (the
notebook), recording itself in the app's store, while the LR Finder page of the real app
(`make run`, Debian's chromium through Playwright) shows that job.

1. Notebook point -> the app's chart: for every point of the sweep, the time from the notebook
   reporting it (the store keeps each metric's report time) to the first frame in which the
   page's chart holds it (the page stamps each change of its point count itself, with a
   MutationObserver and the next animation frame; same machine clock). Target 2 s.
2. Notebook result -> suggestions and "Check this advice" on the page: from the job's end in the
   store to the first frame showing the "Suggested LR" metric and the button. Target 2 s.

The notebook trains the character GRU of examples/char_lm.py, wide enough that its 100-point
sweep lasts tens of seconds on this machine, all three (notebook, app, browser) on its 2 cores.
Prints median and p95 of each, and the ratio of the median to its target (<= 1 meets it).

    .venv/bin/python benchmarks/bench_notebook_latency.py [--rounds 3] [--hidden 384]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_live_latency import CHROMIUM, report, start_app

REPO = Path(__file__).resolve().parents[1]

NOTEBOOK = """
import lrlab
lrlab.find("examples.char_lm:build", args={{"hidden": {hidden}, "context": 128}},
           optimizer="adam", weight_decay=0.0, epochs=2, num_points={points}, device="cpu",
           precision="fp32")
"""

# Stamps (epoch seconds) each change of the most points any trace of the page's charts holds,
# and the first frame showing the "Suggested LR" metric with the "Check this advice" button.
WATCH = """() => {
  window.__counts = [];
  window.__seen = {};
  let last = -1;
  const points = () => {
    let n = 0;
    for (const g of document.querySelectorAll('.js-plotly-plot')) {
      for (const t of (g.data || [])) {
        const x = t.x || [];
        n = Math.max(n, x.length ?? (x._inputArray || []).length);
      }
    }
    return n;
  };
  new MutationObserver(() => requestAnimationFrame(() => {
    const now = Date.now() / 1000;
    const n = points();
    if (n !== last) { last = n; window.__counts.push([n, now]); }
    const labels = [...document.querySelectorAll('[data-testid="stMetricLabel"]')];
    const buttons = [...document.querySelectorAll('button')];
    if (!('answer' in window.__seen) && labels.some((e) => e.textContent.includes('Suggested LR'))
        && buttons.some((b) => b.textContent.includes('Check this advice'))) {
      window.__seen.answer = now;
    }
  })).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


def one_round(page, url: str, store, hidden: int, points: int) -> tuple[list[float], float]:
    """(point latencies, result latency) of one notebook range test shown on the page."""
    before = {j.id for j in store.list_jobs(None, kind="find")}
    notebook = subprocess.Popen(
        [sys.executable, "-c", NOTEBOOK.format(hidden=hidden, points=points)], cwd=REPO,
        env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    job_id = None
    while job_id is None:  # the notebook records its job as soon as it starts
        if time.monotonic() > deadline or notebook.poll() is not None:
            raise RuntimeError("the notebook's job did not appear: "
                               + notebook.stderr.read().decode()[-2000:])
        fresh = [j.id for j in store.list_jobs(None, kind="find") if j.id not in before]
        job_id = fresh[0] if fresh else None
        time.sleep(0.05)
    page.goto(f"{url}/finder?job={job_id}")
    page.get_by_role("heading", name="LR Finder").wait_for()
    page.evaluate(WATCH)
    watched = time.time()
    page.wait_for_function("() => 'answer' in window.__seen", polling=200, timeout=600_000)
    notebook.wait(timeout=120)
    counts = page.evaluate("window.__counts")
    answer = page.evaluate("window.__seen.answer")
    job = store.get(job_id)
    reported = sorted(m.time for m in store.metrics_since(job_id) if m.key == "loss")
    latencies = []
    for k, t_report in enumerate(reported):
        if t_report <= watched:  # reported before the page was watched: not timed
            continue
        shown = next((t for n, t in counts if n >= k + 1), None)
        if shown is not None:
            latencies.append(shown - t_report)
    print(f"  job {job_id}: {len(reported)} points over {reported[-1] - reported[0]:.1f} s, "
          f"{len(latencies)} timed; result shown {answer - job.finished:.2f} s after the "
          "job ended")
    return latencies, answer - job.finished


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=384, help="the GRU's width (pace)")
    parser.add_argument("--points", type=int, default=100)
    ns = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="lrlab-notebook-latency-"))
    os.environ["LRLAB_HOME"] = str(home)
    os.environ.pop("LRLAB_DB", None)
    from lrlab.store import Store, resolve_db_url

    proc, url = start_app(home)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu",
                                              "--disable-dev-shm-usage"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(60_000)
            store = Store(resolve_db_url(None))
            points, answers = [], []
            for _ in range(ns.rounds):
                lat, answer = one_round(page, url, store, ns.hidden, ns.points)
                points += lat
                answers.append(answer)
            browser.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    print(f"notebook + app + chromium on this {os.cpu_count()}-core machine")
    report("notebook point -> on the app's chart", points, 2.0)
    report("notebook result -> suggestions and 'Check this advice' on the page", answers, 2.0)


if __name__ == "__main__":
    main()
