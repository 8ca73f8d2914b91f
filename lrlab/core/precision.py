"""Mixed precision in one place: fp16 + GradScaler on CUDA, bf16 autocast on CPU, or fp32.

The CUDA-only lines are few and guarded; the CPU twin (bf16 autocast, a disabled scaler) runs the
same code path in tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from lrlab.core.errors import LrlabError
from lrlab.core.options import PRECISIONS

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Precision:
    """A resolved precision for one device."""

    name: str  # "fp32" | "bf16" | "fp16"
    device_type: str  # "cpu" | "cuda" | "mps"

    @property
    def enabled(self) -> bool:
        return self.name != "fp32"

    @property
    def uses_scaler(self) -> bool:
        """fp16 needs loss scaling to keep small gradients from flushing to zero."""
        return self.name == "fp16"

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        with torch.autocast(device_type=self.device_type, dtype=_DTYPES[self.name]):
            yield

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A scaler that is a no-op unless fp16 is in use (so the loop has one code path)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.uses_scaler)


def resolve_precision(name: str, device: torch.device) -> Precision:
    """`auto` is fp16 on CUDA, else fp32 (bf16 on CPU is opt-in: it is slower on most CPUs)."""
    if name not in PRECISIONS:
        raise LrlabError(f"precision: expected one of {', '.join(PRECISIONS)}, got {name!r}")
    if name == "auto":
        name = "fp16" if device.type == "cuda" else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise LrlabError(f"precision: fp16 needs a CUDA device (this run is on {device.type}); "
                         "use bf16 on CPU")
    return Precision(name=name, device_type=device.type)
