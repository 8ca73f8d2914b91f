"""The terminal progress bar: redrawn in place on a terminal, plain epoch lines in a log."""

from __future__ import annotations

import io

from lrlab.core.reporting import TerminalReporter


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_is_redrawn_in_place_on_a_terminal() -> None:
    out = _Tty()
    rep = TerminalReporter(out, prefix="[run] ", width=10)
    rep.step(0, {"loss": 1.5})
    rep.progress(0.5, "epoch 1/2")
    rep.epoch(0, {"val_top1": 0.75, "elapsed_s": 3.0})
    rep.progress(1.0, "done")
    text = out.getvalue()
    assert "\r[run] [#####.....]  50% epoch 1/2 loss 1.5" in text
    assert "[run] epoch 1: val_top1 0.75\n" in text and "elapsed_s" not in text
    assert text.endswith("[##########] 100% done loss 1.5\x1b[K")


def test_a_log_file_gets_epoch_lines_only() -> None:
    out = io.StringIO()
    rep = TerminalReporter(out)
    rep.progress(0.5, "half")
    rep.epoch(1, {"train_loss": 0.25})
    assert out.getvalue() == "epoch 2: train_loss 0.25\n"


def test_a_tasks_evaluation_is_named_by_its_update() -> None:
    out = io.StringIO()
    TerminalReporter(out).epoch(3, {"val_loss": 1.25, "step": 42.0, "epoch": 1.5})
    assert out.getvalue() == "update 42: val_loss 1.25, epoch 1.5\n"
