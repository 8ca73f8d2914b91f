"""Which device a run uses: the best one present (cuda > mps > cpu) unless the user names one."""

from __future__ import annotations

import torch

from lrlab.core.errors import LrlabError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def best_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user's device choice into a device, refusing one this machine does not have."""
    if name == "auto":
        return best_device()
    kind = name.split(":", 1)[0]
    if kind not in DEVICE_CHOICES:
        raise LrlabError(f"device: expected one of {', '.join(DEVICE_CHOICES)}, got {name!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise LrlabError("device: 'cuda' was asked for but no CUDA GPU is available")
    if kind == "mps" and best_device().type != "mps":
        raise LrlabError("device: 'mps' was asked for but Apple MPS is not available")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A human name for the sidebar and run records: the GPU's name, or 'CPU (N threads)'."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"GPU {torch.cuda.get_device_name(index)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def warm_up(name: str = "auto") -> None:
    """Pay torch's start-up costs that do not depend on a job: the compiler stack that the first
    optimizer step imports lazily (about 2 s on CPU), the first convolution's kernel set-up and,
    on a GPU, the CUDA context. A warm worker process calls this while it waits for a job."""
    device = resolve_device(name)
    weight = torch.nn.Parameter(torch.zeros(1, 1, 3, 3, device=device))
    optimizer = torch.optim.SGD([weight], lr=0.1, momentum=0.9)
    image = torch.zeros(1, 1, 4, 4, device=device)
    torch.nn.functional.conv2d(image, weight).sum().backward()
    optimizer.step()
    if device.type == "cuda":  # GPU only: the context and the caching allocator
        torch.cuda.synchronize(device)
