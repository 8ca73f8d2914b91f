"""Models by name from timm and torchvision: built untrained for the dataset's classes and
channels (timm's own in_chans; a learned 1x1 mapping to RGB in front of a torchvision model),
and a name the library does not know refused in one sentence."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.config import validate_config
from lrlab.tasks.image.models import build_model

pytest.importorskip("timm")


@pytest.mark.parametrize(("model", "channels"), [("timm:resnet18", 1), ("timm:resnet18", 3),
                                                  ("torchvision:resnet18", 1),
                                                  ("torchvision:mobilenet_v2", 3)])
def test_a_named_model_takes_the_datasets_channels_and_classes(model: str,
                                                               channels: int) -> None:
    net = build_model(model, num_classes=7, in_channels=channels, image_size=32)
    assert net(torch.zeros(2, channels, 32, 32)).shape == (2, 7)
    adapter = model.startswith("torchvision") and channels != 3
    assert isinstance(net, nn.Sequential) == adapter
    if adapter:
        assert net[0].in_channels == channels and net[0].out_channels == 3


def test_the_same_timm_model_as_timm_builds_it() -> None:
    import timm

    torch.manual_seed(0)
    ours = build_model("timm:resnet18", num_classes=5, in_channels=1, image_size=16)
    torch.manual_seed(0)
    theirs = timm.create_model("resnet18", pretrained=False, num_classes=5, in_chans=1)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(),
                                                 theirs.state_dict().values(), strict=True))


@pytest.mark.parametrize(("config", "words"), [
    ({"model": "timm:no_such_net"}, "model: timm has no model 'no_such_net'"),
    ({"model": "torchvision:no_such_net"}, "model: torchvision has no model 'no_such_net'"),
    ({"model": "timm:resnet18", "width": 8}, "width and norm apply to lrlab's own models"),
])
def test_a_bad_named_model_is_refused_before_anything_runs(config: dict, words: str) -> None:
    with pytest.raises(LrlabError) as err:
        validate_config({"dataset": "digits", **config})
    assert words in str(err.value)
