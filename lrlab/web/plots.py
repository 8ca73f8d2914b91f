"""Plotly figure builders: pure functions from data to figures, so pages only render them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrlab.finder.advice import explain

if TYPE_CHECKING:
    from lrlab.web.designer import Preview

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def schedule_figure(
    previews: Sequence[Preview],
    *,
    log_y: bool = False,
    steps_per_epoch: int | None = None,
    x_unit: str = "step",
) -> go.Figure:
    """LR (and momentum, when any schedule has one) against step or epoch, one trace each.

    Hover shows the exact step, epoch and value; x in epochs needs `steps_per_epoch`.
    """
    if x_unit not in ("step", "epoch"):
        raise ValueError(f"x_unit: expected 'step' or 'epoch', got {x_unit!r}")
    if x_unit == "epoch" and not steps_per_epoch:
        raise ValueError("x_unit 'epoch' needs steps_per_epoch")
    with_momentum = any(p.momentum is not None for p in previews)
    rows = 2 if with_momentum else 1
    fig = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06,
        row_heights=[0.7, 0.3] if with_momentum else [1.0],
    )
    for i, p in enumerate(previews):
        color = PALETTE[i % len(PALETTE)]
        x = p.steps / steps_per_epoch if x_unit == "epoch" else p.steps
        custom = _hover_data(p.steps, steps_per_epoch)
        fig.add_trace(
            go.Scatter(
                x=x, y=p.lr, name=p.name, mode="lines", line={"color": color, "width": 2},
                legendgroup=p.name, customdata=custom,
                hovertemplate=_hover_template("lr", steps_per_epoch, p.name),
            ),
            row=1, col=1,
        )
        if p.momentum is not None:
            fig.add_trace(
                go.Scatter(
                    x=x, y=p.momentum, name=f"{p.name} (momentum)", mode="lines",
                    line={"color": color, "width": 1.5, "dash": "dot"}, legendgroup=p.name,
                    showlegend=False, customdata=custom,
                    hovertemplate=_hover_template("momentum", steps_per_epoch, p.name),
                ),
                row=2, col=1,
            )
    fig.update_yaxes(title_text="learning rate", type="log" if log_y else "linear",
                     exponentformat="power" if log_y else "none", row=1, col=1)
    if with_momentum:
        fig.update_yaxes(title_text="momentum", row=2, col=1)
    fig.update_xaxes(title_text="epoch" if x_unit == "epoch" else "step", row=rows, col=1)
    fig.update_layout(
        height=520 if with_momentum else 420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="x unified" if len(previews) > 1 else "closest",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )
    return fig


def _hover_data(steps: np.ndarray, steps_per_epoch: int | None) -> np.ndarray:
    if steps_per_epoch:
        return np.stack([steps, steps / steps_per_epoch], axis=1)
    return steps[:, None]


def _hover_template(label: str, steps_per_epoch: int | None, name: str) -> str:
    epoch = " · epoch %{customdata[1]:.3f}" if steps_per_epoch else ""
    return f"step %{{customdata[0]:d}}{epoch}<br>{label} %{{y:.6g}}<extra>{name}</extra>"


def _interp_log(x: np.ndarray, y: np.ndarray, at: float) -> float:
    """y at `at` on a log-x curve (for placing a suggestion marker on the smoothed curve)."""
    ok = np.isfinite(y) & (x > 0)
    if not ok.any():
        return float("nan")
    return float(np.interp(np.log10(at), np.log10(x[ok]), y[ok]))


def range_test_figure(
    lr: Sequence[float],
    loss: Sequence[float],
    *,
    smoothed: Sequence[float] | None = None,
    band: tuple[Sequence[float], Sequence[float], Sequence[float]] | None = None,
    suggestions: dict[str, float | None] | None = None,
    consensus: float | None = None,
    validation: tuple[Sequence[float], Sequence[float]] | None = None,
    overlays: Sequence[tuple[str, Sequence[float], Sequence[float]]] = (),
    lr_range: tuple[float, float] | None = None,
) -> go.Figure:
    """Loss against LR (log x): raw points, the smoothed curve, a seed band, suggestions.

    Each suggestion is a marker on the smoothed curve; the consensus is a highlighted line, so the
    eye goes to the one number the user should take away. `lr_range` fixes the x axis to the
    sweep's span, so a live curve grows from left to right in a frame that does not move.
    """
    lr_a, loss_a = np.asarray(lr, dtype=float), np.asarray(loss, dtype=float)
    fig = go.Figure()
    _curve_traces(fig, lr_a, loss_a, smoothed, band, validation, overlays)
    reference = np.asarray(smoothed, dtype=float) if smoothed is not None else loss_a
    _suggestion_traces(fig, lr_a, reference, suggestions, consensus)
    _range_test_axes(fig, loss_a, lr_range)
    return fig


def _curve_traces(fig: go.Figure, lr_a: np.ndarray, loss_a: np.ndarray,
                  smoothed: Sequence[float] | None,
                  band: tuple[Sequence[float], Sequence[float], Sequence[float]] | None,
                  validation: tuple[Sequence[float], Sequence[float]] | None,
                  overlays: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> None:
    """The seed band, raw points, smoothed line, validation loss and other tests' curves."""
    if band is not None:
        grid, low, high = (np.asarray(v, dtype=float) for v in band)
        fig.add_trace(go.Scatter(x=grid, y=high, mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=grid, y=low, mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(31,119,180,0.18)",
                                 name="seed band", hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=lr_a, y=loss_a, mode="markers", name="loss (raw)",
        marker={"size": 4, "color": "rgba(100,100,100,0.55)"},
        hovertemplate="lr %{x:.3g}<br>loss %{y:.4f}<extra>raw</extra>"))
    if smoothed is not None:
        fig.add_trace(go.Scatter(
            x=lr_a, y=np.asarray(smoothed, dtype=float), mode="lines", name="smoothed",
            line={"color": PALETTE[0], "width": 2.5},
            hovertemplate="lr %{x:.3g}<br>smoothed %{y:.4f}<extra></extra>"))
    if validation is not None:
        fig.add_trace(go.Scatter(
            x=np.asarray(validation[0], dtype=float), y=np.asarray(validation[1], dtype=float),
            mode="lines+markers", name="validation loss",
            line={"color": PALETTE[2], "dash": "dash"},
            hovertemplate="lr %{x:.3g}<br>val loss %{y:.4f}<extra></extra>"))
    for i, (name, o_lr, o_loss) in enumerate(overlays):
        fig.add_trace(go.Scatter(
            x=np.asarray(o_lr, dtype=float), y=np.asarray(o_loss, dtype=float), mode="lines",
            name=name, line={"color": PALETTE[(i + 3) % len(PALETTE)], "width": 1.5},
            opacity=0.8))


def _suggestion_traces(fig: go.Figure, lr_a: np.ndarray, reference: np.ndarray,
                       suggestions: dict[str, float | None] | None,
                       consensus: float | None) -> None:
    """Each method's suggestion as a marker on the curve, the consensus as a line."""
    for i, (method, value) in enumerate(sorted((suggestions or {}).items())):
        if value is None or method == "consensus":
            continue
        fig.add_trace(go.Scatter(
            x=[value], y=[_interp_log(lr_a, reference, value)], mode="markers", name=method,
            marker={"size": 11, "symbol": "diamond", "color": PALETTE[(i + 1) % len(PALETTE)],
                    "line": {"width": 1, "color": "white"}},
            hovertemplate=f"{method}<br>lr %{{x:.3g}}<extra></extra>"))
    if consensus is not None:
        fig.add_vline(x=consensus, line={"color": "#d62728", "width": 3},
                      annotation_text=f"consensus {consensus:.2g}",
                      annotation_position="top left")


def _range_test_axes(fig: go.Figure, loss_a: np.ndarray,
                     lr_range: tuple[float, float] | None) -> None:
    finite = loss_a[np.isfinite(loss_a)]
    if finite.size:
        # Diverged tails would squash the interesting part: cap the view a bit above the start.
        low, high = float(np.min(finite)), float(np.max(finite[: max(len(finite) // 3, 1)]))
        span = max(high - low, 1e-12)
        fig.update_yaxes(range=[low - 0.1 * span, high + 0.5 * span])
    fig.update_xaxes(type="log", title_text="learning rate", exponentformat="power")
    if lr_range is not None:
        fig.update_xaxes(range=[float(np.log10(lr_range[0])), float(np.log10(lr_range[1]))])
    fig.update_yaxes(title_text="loss")
    fig.update_layout(height=460, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})


TRAINING_PANELS = (
    ("loss", "step", "training loss"),
    ("lr", "step", "learning rate"),
    ("momentum", "step", "momentum"),
    ("weight_decay", "step", "weight decay / update"),
    ("batch", "step", "batch size"),
    ("val_top1", "epoch", "validation top-1"),
    ("images_per_s", "step", "images / s"),
    ("val_loss", "epoch", "validation loss"),
)
# A task's run: what every task run reports per update, then its evaluations' own metrics.
TASK_STEP_PANELS = (
    ("loss", "step", "training loss"),
    ("lr", "step", "learning rate"),
    ("momentum", "step", "momentum"),
    ("grad_norm", "step", "gradient norm"),
)
_WHERE = ("step", "epoch")  # an evaluation's position, not a metric
# The step size an LR-free optimizer chose (Prodigy's d·lr, DoG's η), drawn beside the LR.
STEP_SIZE_PANEL = ("step_size", "step", "step size it chose")
IMAGE_AXES = {"step": "step", "epoch": "epoch"}
TASK_AXES = {"step": "update", "epoch": "evaluation"}  # a task evaluates by epoch or by updates

Series = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def task_panels(runs: Sequence[tuple[str, Series]]) -> tuple[tuple[str, str, str], ...]:
    """The panels of task runs: the per-update ones, then one per metric their evaluations
    report, titled by the metric's own name (val_accuracy, val_bpc...)."""
    metrics = sorted({key for _, series in runs for scope, key in series
                      if scope == "epoch" and key not in _WHERE})
    return TASK_STEP_PANELS + tuple((key, "epoch", key) for key in metrics)


def training_figure(runs: Sequence[tuple[str, Series]], tasks: bool = False) -> go.Figure:
    """The live training dashboard: one panel per metric, four to a row, one colour per run;
    for `tasks`, their own metrics (task_panels) over updates and evaluations.

    `runs` holds (name, {(scope, key): (index, values)}), so the same figure serves one live run
    and a comparison of finished ones.
    """
    panels, axes = (task_panels(runs), TASK_AXES) if tasks else (TRAINING_PANELS, IMAGE_AXES)
    if any(("step", "step_size") in series for _, series in runs):  # an LR-free optimizer's
        panels = (*panels[:2], STEP_SIZE_PANEL, *panels[2:])  # beside the LR
    titles = [title for _, _, title in panels]
    rows = max(1, -(-len(panels) // 4))
    fig = make_subplots(rows=rows, cols=4, subplot_titles=titles,
                        vertical_spacing=0.28 / rows, horizontal_spacing=0.06)
    for r, (name, series) in enumerate(runs):
        color = PALETTE[r % len(PALETTE)]
        for p, (key, scope, title) in enumerate(panels):
            index, values = series.get((scope, key), (np.array([]), np.array([])))
            if len(index) == 0:
                continue
            fig.add_trace(go.Scatter(
                x=index, y=values, mode="lines+markers" if scope == "epoch" else "lines",
                name=name, legendgroup=name, showlegend=p == 0, line={"color": color},
                hovertemplate=f"{axes[scope]} %{{x}}<br>{title} %{{y:.4g}}<extra>{name}</extra>"),
                row=p // 4 + 1, col=p % 4 + 1)
    for p, (_, scope, _) in enumerate(panels):
        fig.update_xaxes(title_text=axes[scope],
                         row=p // 4 + 1, col=p % 4 + 1)
    fig.update_layout(height=280 * rows, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 0})
    return fig


def range_test_result_figure(
    result: dict, *, overlays: Sequence[tuple[str, Sequence[float], Sequence[float]]] = ()
) -> go.Figure:
    """The figure of a finished `lrlab.range_test` result, with earlier tests overlaid."""
    suggestions = dict(result.get("suggestions") or {})
    seeds = result.get("seeds") or {}
    band = None
    if seeds.get("band_low") is not None:
        band = (result["lr"], _nan_for_none(seeds["band_low"]), _nan_for_none(seeds["band_high"]))
    validation = result.get("validation")
    fig = range_test_figure(
        result["lr"], _nan_for_none(result["loss"]),
        smoothed=_nan_for_none(result["smoothed"]) if result.get("smoothed") else None,
        band=band,
        suggestions=suggestions,
        consensus=suggestions.get("consensus"),
        validation=(validation["lr"], validation["loss"]) if validation else None,
        overlays=overlays,
    )
    lr_a = np.asarray(result["lr"], dtype=float)
    reference = _nan_for_none(result.get("smoothed") or result["loss"])
    for name, advice in explain(result).items():  # where each advised schedule peaks
        fig.add_trace(go.Scatter(
            x=[advice["peak"]], y=[_interp_log(lr_a, reference, advice["peak"])],
            mode="markers", name=f"{name} peak",
            marker={"size": 12, "symbol": "triangle-up", "color": "#ff7f0e",
                    "line": {"width": 1, "color": "black"}},
            hovertemplate=f"{name} peak<br>lr %{{x:.3g}}<extra></extra>"))
    return fig


def _nan_for_none(values: Sequence[float | None]) -> np.ndarray:
    """JSON results store NaN as null; plotting wants NaN back."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def noise_figure(previews: Sequence[Preview], curves: Sequence[object]) -> go.Figure:
    """Noise scale (log), momentum's averaging window and the decay per update, per schedule,
    against the epochs of data seen, so runs with different batches line up: the rows of the
    Designer's noise panel (`curves` are designer.NoiseCurves)."""
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        row_heights=[0.45, 0.25, 0.3])
    rows = (("noise", "noise scale g", 1), ("window", "momentum window T", 2),
            ("decay", "decay per update", 3))
    for i, (p, c) in enumerate(zip(previews, curves, strict=True)):
        color = PALETTE[i % len(PALETTE)]
        for attr, label, row in rows:
            fig.add_trace(
                go.Scatter(x=c.epochs, y=getattr(c, attr), name=p.name, mode="lines",
                           line={"color": color, "width": 2 if row == 1 else 1.5},
                           legendgroup=p.name, showlegend=row == 1, customdata=p.steps,
                           hovertemplate=(f"step %{{customdata:d}} · epoch %{{x:.3f}}<br>"
                                          f"{label} %{{y:.6g}}<extra>{p.name}</extra>")),
                row=row, col=1)
    fig.update_yaxes(title_text="g = η/(1−m)·(N/B−1)", type="log", exponentformat="power",
                     row=1, col=1)
    fig.update_yaxes(title_text="T = −1/ln m", row=2, col=1)
    fig.update_yaxes(title_text="decay / update", exponentformat="power", row=3, col=1)
    fig.update_xaxes(title_text="epochs of data seen (examples / N)", row=3, col=1)
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      hovermode="x unified" if len(previews) > 1 else "closest",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    return fig


def ladder_figure(rows: Sequence[dict], suggestions: dict[str, float],
                  baselines: Sequence[dict] = ()) -> go.Figure:
    """An LR check ladder: each point's final objective (validation top-1 on 0-100 %, or a
    task's own metric named with its direction; the seeds' mean, with their range as a bar) and
    loss (log axis) against its peak LR (log), the advice's point ringed, a point that did not
    finish marked ✕ on the loss panel's top edge, every method's suggestion as a dotted line
    named in the legend (hover gives its LR), and each LR-free baseline as a dashed
    horizontal line across the ladder (its seeds' range a band around it)."""
    done = [r for r in rows if r.get("final_objective", r.get("final_val_top1")) is not None]
    objective = next((r.get("objective") for r in rows if r.get("objective")), "val_top1")
    top1 = objective == "val_top1"
    better = "" if top1 else (" (higher is better)" if next(
        (r.get("mode") for r in rows if r.get("mode")), "max") == "max" else
        " (lower is better)")
    title = "final val top-1" if top1 else f"final {objective}{better}"
    fig = make_subplots(rows=1, cols=2, subplot_titles=(title, "final val loss"))
    values = [r.get("final_objective", r.get("final_val_top1")) for r in done]
    lrs = [r["lr"] for r in done]
    # several seeds a point: a bar from the worst seed's figure to the best's
    seeds = [[v for v in (r.get("seed_final_objective") or r.get("seed_final_val_top1") or [])
              if v is not None] for r in done]
    bars = None
    if any(len(v) > 1 for v in seeds):
        bars = {"type": "data", "symmetric": False,
                "array": [max(v) - y if v else 0 for y, v in zip(values, seeds, strict=True)],
                "arrayminus": [y - min(v) if v else 0 for y, v in
                               zip(values, seeds, strict=True)]}
    for col, ys in ((1, values), (2, [r["final_val_loss"] for r in done])):
        fig.add_trace(go.Scatter(
            x=lrs, y=ys, mode="lines+markers", name=title if col == 1 else "final val loss",
            showlegend=False, marker={"size": [14 if r["factor"] == 1.0 else 8 for r in done]},
            error_y=bars if col == 1 else None,
            hovertemplate="peak LR %{x:.3g}<br>%{y:.4g}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="log", title_text="peak LR", row=1, col=col)
    levels = [b["final_objective"] for b in baselines if b.get("final_objective") is not None]
    span = (0.0, 1.0) if top1 or not values else (min(values + levels), max(values + levels))
    _ladder_suggestions(fig, suggestions, span)
    _ladder_failures(fig, rows, done)
    _ladder_baselines(fig, baselines, [r["lr"] for r in rows] or [1e-3, 1.0])
    if top1:
        fig.update_yaxes(tickformat=".0%", range=[0, 1], row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return fig


def _ladder_suggestions(fig: go.Figure, suggestions: dict[str, float],
                        span: tuple[float, float]) -> None:
    """Each method's LR as a dotted line on both panels (across `span` of the objective's
    panel), named once in the legend."""
    for i, (name, lr) in enumerate(sorted(suggestions.items())):
        color = PALETTE[(i + 1) % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=[lr, lr], y=list(span), mode="lines", name=name, legendgroup=name,
            line={"dash": "dot", "color": color, "width": 1.5},
            hovertemplate=f"{name}<br>LR %{{x:.3g}}<extra></extra>"), row=1, col=1)
        fig.add_vline(x=lr, line_dash="dot", line_color=color, line_width=1.5, row=1, col=2)


def _ladder_baselines(fig: go.Figure, baselines: Sequence[dict], lrs: Sequence[float]) -> None:
    """Each finished LR-free baseline as a dashed line at its final objective (and loss)
    across the ladder's LRs, with the range of its seeds as a shaded band, named in the
    legend: it has no LR of its own to stand at."""
    x0, x1 = min(lrs), max(lrs)
    for i, b in enumerate(baselines):
        value = b.get("final_objective")
        if value is None:
            continue
        color = PALETTE[(i + 5) % len(PALETTE)]
        name = f"{b['title']} (LR-free)"
        seeds = [v for v in (b.get("seed_final_objective") or []) if v is not None]
        if len(seeds) > 1:
            fig.add_trace(go.Scatter(
                x=[x0, x1, x1, x0], y=[min(seeds), min(seeds), max(seeds), max(seeds)],
                fill="toself", mode="none", fillcolor=color, opacity=0.15, legendgroup=name,
                showlegend=False, hoverinfo="skip"), row=1, col=1)
        for col, level in ((1, value), (2, b.get("final_val_loss"))):
            if col == 1 or level:  # the loss panel is logarithmic: no missing or zero loss
                fig.add_trace(go.Scatter(
                    x=[x0, x1], y=[level, level], mode="lines", name=name, legendgroup=name,
                    showlegend=col == 1, line={"dash": "dash", "color": color, "width": 2},
                    hovertemplate=f"{name}<br>%{{y:.4g}}<extra></extra>"), row=1, col=col)


def _ladder_failures(fig: go.Figure, rows: Sequence[dict], done: Sequence[dict]) -> None:
    """Points that did not finish (a diverged run, a failed job) as ✕ at the loss panel's top,
    where a diverged loss would have gone off the chart."""
    failed = [r for r in rows if r.get("final_val_loss") is None
              and r.get("status") not in ("queued", "running")]
    if not failed:
        return
    losses = [r["final_val_loss"] for r in done if r.get("final_val_loss")]
    top = max(losses) * 2 if losses else 10.0
    fig.add_trace(go.Scatter(
        x=[r["lr"] for r in failed], y=[top] * len(failed), mode="markers",
        name="did not finish", marker={"symbol": "x", "size": 12, "color": "#d62728"},
        text=[r.get("error") or r.get("status") for r in failed],
        hovertemplate="peak LR %{x:.3g}<br>%{text}<extra></extra>"), row=1, col=2)
