"""Models picked by name from another library: ``timm:NAME`` (`timm.create_model`) and
``torchvision:NAME`` (`torchvision.models.get_model`), built untrained for the dataset's classes
and channels. Nothing is downloaded: lrlab never asks for pretrained weights.

timm takes the channel count itself (`in_chans`); a torchvision model expects three, so another
count gets a learned 1×1 convolution in front that maps it to three.
"""

from __future__ import annotations

import importlib

from torch import nn

from lrlab.core.errors import LrlabError

PROVIDERS = {"timm": "timm", "torchvision": "torchvision"}  # prefix -> the library it needs


def is_named(model: object) -> bool:
    """Whether a config's model is ``library:NAME`` rather than one of lrlab's own."""
    return isinstance(model, str) and model.partition(":")[0] in PROVIDERS


def _library(provider: str) -> object:
    try:
        return importlib.import_module(PROVIDERS[provider])
    except ModuleNotFoundError:
        raise LrlabError(f"model: {provider}: models need the {provider} package "
                         f"(pip install {provider})") from None


def check_named(model: str) -> None:
    """The name is one the library knows (one sentence naming the model if not)."""
    provider, _, name = model.partition(":")
    library = _library(provider)
    known = (library.is_model(name) if provider == "timm"  # type: ignore[attr-defined]
             else name in library.models.list_models())  # type: ignore[attr-defined]
    lister = ("timm.list_models()" if provider == "timm"
              else "torchvision.models.list_models()")
    if not name or not known:
        raise LrlabError(f"model: {provider} has no model {name!r} (see {lister})")


def build_named(model: str, *, num_classes: int, in_channels: int) -> nn.Module:
    """The named model, untrained, with `num_classes` outputs, taking `in_channels`."""
    check_named(model)
    provider, _, name = model.partition(":")
    library = _library(provider)
    if provider == "timm":
        return library.create_model(name, pretrained=False,  # type: ignore[attr-defined]
                                    num_classes=num_classes, in_chans=in_channels)
    network = library.models.get_model(name, weights=None,  # type: ignore[attr-defined]
                                       num_classes=num_classes)
    if in_channels == 3:
        return network
    return nn.Sequential(nn.Conv2d(in_channels, 3, kernel_size=1), network)
