"""PyTorch Lightning: a `configure_optimizers` return value stepping the PyTorch export per
update (`"interval": "step"`), and the LightningCLI YAML where one scheduler class suffices.

Lightning runs PyTorch's own schedulers, so the values are the PyTorch export's, measured by
running it. LightningCLI steps a scheduler given in YAML once per epoch (its
`configure_optimizers` returns `[optimizer], [lr_scheduler]`), so that YAML counts epochs.
"""

from __future__ import annotations

import ast
import json

from lrlab.schedules.schedule import Schedule
from lrlab.schedules.spec import KINDS
from lrlab.schedules.targets import Export
from lrlab.schedules.targets.exactness import EXACT, Exactness, measure
from lrlab.schedules.targets.pytorch import _TWIN_ARGS, run_exported, to_pytorch

_CONFIGURE = '''

def lightning_optimizers(optimizer):
    """Return this from your LightningModule's configure_optimizers()."""
    return {{
        "optimizer": optimizer,
        "lr_scheduler": {{"scheduler": build_scheduler(optimizer), "interval": "step",
                         "frequency": 1{monitor}}},
    }}
'''

_CLI = '''
# LightningCLI (config.yaml). LightningCLI steps this scheduler once per EPOCH, so it is this
# schedule only when each of its {total} steps is an epoch; per update, use
# lightning_optimizers() above.
#
# lr_scheduler:
#   class_path: torch.optim.lr_scheduler.{twin}
#   init_args:
{init_args}
'''


def cli_yaml(s: Schedule) -> str:
    """The LightningCLI `lr_scheduler` block, where one PyTorch scheduler is the schedule."""
    twin = KINDS[s.kind].torch_twin
    if twin is None or s.warmup_steps or s.hold_steps or s.kind in ("onecycle", "cyclic"):
        return ""
    args = _TWIN_ARGS[s.kind](s.params, s.main_steps)
    if args is None:
        return ""
    call = ast.parse(f"f({args})", mode="eval").body
    lines = "\n".join(f"#     {kw.arg}: {json.dumps(ast.literal_eval(kw.value))}"
                      for kw in call.keywords)
    return _CLI.format(total=s.total_steps, twin=twin, init_args=lines)


def export_native(s: Schedule, target: str) -> Export:
    code = to_pytorch(s)
    monitor = ', "monitor": "train_loss"  # the metric you log every step' if (
        s.kind == "plateau") else ""
    text = code + _CONFIGURE.format(monitor=monitor) + cli_yaml(s)
    if s.kind == "plateau":
        exactness = Exactness(EXACT, 0.0, 0, "Follows the monitored metric; PyTorch's "
                              "ReduceLROnPlateau is lrlab's plateau rule.")
    else:
        exactness = measure(s, run_exported(code, s.total_steps))
    momentum = "carried (the PyTorch scheduler sets it)" if s.momentum([0]) is not None else ""
    return Export(target, text, "lightning_schedule.py", "text/x-python", exactness, momentum)
