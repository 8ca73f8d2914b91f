"""ResNets without BatchNorm, initialised by Fixup (Zhang, Dauphin & Ma 2019)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.models import FixupBasicBlock, FixupBottleneck, ScalarBias, build_model


def _build(name: str, norm: str, variant: str = "D", seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, num_classes=10, in_channels=1, image_size=8, variant=variant,
                       width=8, norm=norm, zero_gamma=True)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
@pytest.mark.parametrize("variant", ["A", "D"])
def test_every_residual_block_starts_as_the_identity(name: str, variant: str) -> None:
    model = _build(name, "none", variant).eval()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    x = torch.rand(3, 1, 8, 8)
    h = model.stem(x)
    for block in model.blocks():
        out = block(h)
        if block.downsample is None:  # the branch adds zero: relu(h) = h for h >= 0
            assert torch.equal(out, h)
        else:  # only the shortcut remains
            assert torch.equal(out, torch.relu(block.downsample(h)))
        h = out
    assert torch.equal(model(x), torch.zeros(3, 10))  # the classifier starts at zero


@pytest.mark.parametrize(("name", "m"), [("resnet18", 2), ("resnet34", 2), ("resnet50", 3)])
def test_branch_convs_are_he_scaled_by_l_to_the_minus_1_over_2m_minus_2(name: str,
                                                                       m: int) -> None:
    """Each branch conv but the last draws from N(0, 2/fan_in) × L^(-1/(2m-2)); the last and
    the classifier are zero; the multiplier starts at 1."""
    torch.manual_seed(0)
    fixup = build_model(name, num_classes=10, in_channels=3, image_size=32, width=32,
                        norm="none")
    blocks = fixup.blocks()
    factor = len(blocks) ** (-1.0 / (2 * m - 2))
    convs = ("conv1", "conv2", "conv3")[:m]
    for block in blocks:
        for conv in convs[:-1]:
            w = getattr(block, conv).weight
            fan_in = w.shape[1] * w.shape[2] * w.shape[3]
            expected = (2.0 / fan_in) ** 0.5 * factor
            assert w.std().item() == pytest.approx(expected, rel=0.12), (conv, w.shape)
        assert not getattr(block, convs[-1]).weight.any()
        assert block.scale.item() == 1.0
    assert not fixup.fc.weight.any() and not fixup.fc.bias.any()


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_parameter_count_is_the_bn_net_minus_bn_plus_fixups_scalars(name: str) -> None:
    with_bn, fixup = _build(name, "batch", "A"), _build(name, "none", "A")
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    bn = sum(m.weight.numel() + m.bias.numel() for m in with_bn.modules()
             if isinstance(m, nn.BatchNorm2d))
    blocks = fixup.blocks()
    per_block = 5 if isinstance(blocks[0], FixupBasicBlock) else 7  # biases + one scale
    assert isinstance(blocks[0], FixupBasicBlock | FixupBottleneck)
    shortcuts = sum(1 for b in blocks if b.downsample is not None)
    # A's small-image stem has one norm; each shortcut one; one bias before the classifier.
    scalars = len(blocks) * per_block + 1 + shortcuts + 1
    assert sum(isinstance(m, ScalarBias) for m in fixup.modules()) + len(blocks) == scalars
    assert count(fixup) == count(with_bn) - bn + scalars


def test_norm_none_is_for_resnets_only() -> None:
    with pytest.raises(LrlabError, match="norm: 'none' \\(Fixup\\) is for the ResNets"):
        build_model("small_cnn", num_classes=10, in_channels=1, image_size=8, norm="none")
    with pytest.raises(LrlabError, match="norm: expected one of batch, none"):
        build_model("resnet18", num_classes=10, in_channels=1, image_size=8, norm="layer")
