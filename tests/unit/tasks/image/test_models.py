"""ResNet variants vs He et al. 2019 (Fig. 2), torchvision parameter counts, hand-counted MACs."""

import pytest
import torch
import torchvision
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.models import (
    MODELS,
    VARIANTS,
    BasicBlock,
    Bottleneck,
    ModelSummary,
    build_model,
    model_summary,
)


def _resnet50(variant: str, image_size: int = 224) -> nn.Module:
    return build_model(
        "resnet50", num_classes=10, in_channels=3, image_size=image_size, variant=variant, width=8
    )


def _first_downsampling_block(model: nn.Module) -> nn.Module:
    return model.layer2[0]


@pytest.mark.parametrize(("name", "expected"), [("resnet18", 11_689_512), ("resnet50", 25_557_032)])
def test_imagenet_parameter_counts_match_torchvision(name: str, expected: int) -> None:
    model = build_model(name, num_classes=1000, in_channels=3, image_size=224, variant="B")
    reference = getattr(torchvision.models, name)(weights=None)
    ours = sum(p.numel() for p in model.parameters())
    assert ours == sum(p.numel() for p in reference.parameters()) == expected


def test_variant_a_strides_first_1x1_and_b_strides_the_3x3() -> None:
    block_a = _first_downsampling_block(_resnet50("A"))
    assert block_a.conv1.stride == (2, 2) and block_a.conv2.stride == (1, 1)
    for variant in ("B", "C", "D"):
        block = _first_downsampling_block(_resnet50(variant))
        assert block.conv1.kernel_size == (1, 1) and block.conv1.stride == (1, 1)
        assert block.conv2.kernel_size == (3, 3) and block.conv2.stride == (2, 2)


def test_basic_blocks_stride_the_first_3x3_in_every_variant() -> None:
    for variant in VARIANTS:
        model = build_model(
            "resnet18", num_classes=10, in_channels=3, image_size=32, variant=variant, width=8
        )
        block = _first_downsampling_block(model)
        assert isinstance(block, BasicBlock)
        assert block.conv1.kernel_size == (3, 3) and block.conv1.stride == (2, 2)


def _stem_convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.stem if isinstance(m, nn.Conv2d)]


def test_imagenet_stems() -> None:
    stem_a = _stem_convs(_resnet50("A"))
    assert [(c.kernel_size, c.stride) for c in stem_a] == [((7, 7), (2, 2))]
    for variant in ("C", "D"):
        model = _resnet50(variant)
        convs = _stem_convs(model)
        assert [c.kernel_size for c in convs] == [(3, 3)] * 3
        assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
        assert [c.out_channels for c in convs] == [4, 4, 8]  # w/2, w/2, w with w = 8
        assert any(isinstance(m, nn.MaxPool2d) for m in model.stem)


def test_small_image_stems_keep_resolution() -> None:
    for variant in VARIANTS:
        model = _resnet50(variant, image_size=32)
        convs = _stem_convs(model)
        assert all(c.stride == (1, 1) and c.kernel_size == (3, 3) for c in convs)
        assert len(convs) == (3 if variant in ("C", "D") else 1)
        assert not any(isinstance(m, nn.MaxPool2d) for m in model.stem)


def test_variant_d_shortcut_average_pools_then_1x1_stride_1() -> None:
    shortcut = _first_downsampling_block(_resnet50("D")).downsample
    pool, conv = shortcut[0], shortcut[1]
    assert isinstance(pool, nn.AvgPool2d)
    assert (pool.kernel_size, pool.stride, pool.ceil_mode) == (2, 2, True)
    assert pool.count_include_pad is False
    assert conv.kernel_size == (1, 1) and conv.stride == (1, 1)
    for variant in ("A", "B", "C"):
        shortcut = _first_downsampling_block(_resnet50(variant)).downsample
        assert not any(isinstance(m, nn.AvgPool2d) for m in shortcut)
        assert shortcut[0].stride == (2, 2)


def test_variant_d_shortcut_output_equals_pool_then_conv() -> None:
    block = _first_downsampling_block(_resnet50("D")).eval()
    x = torch.randn(2, 32, 7, 7)  # odd size: ceil_mode keeps the last row/column
    _, conv, bn = block.downsample
    expected = bn(conv(nn.functional.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False)))
    assert torch.allclose(block.downsample(x), expected)
    assert block.downsample(x).shape == block.conv3(block.conv2(block.conv1(x))).shape


def test_zero_gamma_zeroes_exactly_the_last_bn_of_each_block() -> None:
    for name, last in (("resnet18", "bn2"), ("resnet50", "bn3")):
        model = build_model(
            name, num_classes=10, in_channels=3, image_size=32, zero_gamma=True, width=8
        )
        zeroed = {
            n
            for n, m in model.named_modules()
            if isinstance(m, nn.BatchNorm2d) and torch.all(m.weight == 0)
        }
        expected = {
            f"{n}.{last}"
            for n, m in model.named_modules()
            if isinstance(m, (BasicBlock, Bottleneck))
        }
        assert zeroed == expected and len(expected) == (8 if name == "resnet18" else 16)
        plain = build_model(name, num_classes=10, in_channels=3, image_size=32, width=8)
        assert all(
            torch.all(m.weight == 1) for m in plain.modules() if isinstance(m, nn.BatchNorm2d)
        )


def test_zero_gamma_blocks_start_as_identity_plus_relu() -> None:
    model = build_model(
        "resnet18", num_classes=10, in_channels=3, image_size=32, zero_gamma=True, width=8
    ).eval()
    block = model.layer1[0]
    x = torch.randn(2, 8, 8, 8)
    assert torch.allclose(block(x), torch.relu(x))


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize(("channels", "size"), [(1, 8), (3, 32), (3, 72)])
def test_forward_shapes(name: str, channels: int, size: int) -> None:
    model = build_model(
        name, num_classes=7, in_channels=channels, image_size=size, variant="D", width=8
    ).eval()
    with torch.no_grad():
        assert model(torch.randn(2, channels, size, size)).shape == (2, 7)


def test_model_summary_counts_hand_computed_macs() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),  # 2 x 4 x 4 outputs, 9 MACs each: 288
        nn.Conv2d(2, 4, 1, stride=2),  # 4 x 2 x 2 outputs, 2 MACs each: 32
        nn.Flatten(),
        nn.Linear(16, 3),  # 3 outputs x 16 inputs: 48
    )
    params = (2 * 9 + 2) + (4 * 2 + 4) + (16 * 3 + 3)
    assert model_summary(model, (1, 4, 4)) == ModelSummary(params=params, macs=288 + 32 + 48)


def test_model_summary_counts_grouped_convs_and_matches_known_resnet18_macs() -> None:
    depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4)  # 4 x 5 x 5 outputs, 9 MACs each
    assert model_summary(depthwise, (4, 5, 5)).macs == 4 * 25 * 9
    resnet18 = build_model("resnet18", num_classes=1000, in_channels=3, image_size=224)
    assert model_summary(resnet18, (3, 224, 224)).macs == 1_814_073_344  # the widely cited 1.8 G


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "vgg"}, "resnet18"),
        ({"variant": "E"}, "variant"),
        ({"num_classes": 1}, "num_classes"),
        ({"in_channels": 0}, "in_channels"),
    ],
)
def test_bad_input_is_named(kwargs: dict, message: str) -> None:
    arguments = {"name": "resnet18", "num_classes": 10, "in_channels": 3, "image_size": 32}
    arguments.update(kwargs)
    name = arguments.pop("name")
    with pytest.raises(LrlabError, match=message):
        build_model(name, **arguments)


def test_image_size_may_be_a_datasets_height_and_width() -> None:
    small = build_model("resnet18", num_classes=10, in_channels=1, image_size=(28, 28), width=8)
    large = build_model("resnet18", num_classes=10, in_channels=1, image_size=(96, 128), width=8)
    assert _stem_convs(small)[0].kernel_size == (3, 3)
    assert _stem_convs(large)[0].kernel_size == (7, 7)


def test_describe_model_counts_for_the_real_input() -> None:
    from lrlab.tasks.image.models import describe_model

    line = describe_model("resnet50", input_shape=(3, 224, 224), num_classes=1000, variant="D")
    # He et al. 2019, Table 5: ResNet-50-D has 25.6 M parameters and 4.3 G multiply-adds
    assert line.startswith("resnet50-D: 25.58 M parameters, 4.3")
    assert line.endswith("G MACs per 224×224×3 image")
    small = describe_model("small_cnn", input_shape=(1, 8, 8), num_classes=10)
    assert small.startswith("small_cnn: 0.09 M parameters") and "M MACs per 8×8×1" in small


def test_describe_for_dataset_uses_the_sets_shape() -> None:
    from lrlab.tasks.image.models import describe_for_dataset

    line = describe_for_dataset("resnet18", "digits", variant="D", width=16)
    assert line.startswith("resnet18-D: 0.70 M parameters") and line.endswith("per 8×8×1 image")
    folder = describe_for_dataset("small_cnn", "image_folder")
    assert "32×32×3 image (for example" in folder
