"""Plotly figure builders: pure functions from data to figures, so pages only render them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrlab.designer import Preview

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
