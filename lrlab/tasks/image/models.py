"""Model zoo: ResNet with the "Bag of Tricks" variants A/B/C/D, a small CNN and torchvision models.

Variants follow He et al. 2019 ("Bag of Tricks for Image Classification with CNNs", Fig. 2):

- A: the original ResNet. A bottleneck block downsamples with stride 2 in its first 1x1 conv
  (path A); a basic block downsamples in its first 3x3 conv. Shortcut: 1x1 conv, stride 2.
- B: the stride 2 moves to the 3x3 conv of path A (ResNet "v1.5", torchvision's ResNet-50).
  A basic block already downsamples in a 3x3 conv, so for ResNet-18/34 B is identical to A.
- C: the stem's single 7x7 conv becomes three 3x3 convs (widths w/2, w/2, w). The paper's tweaks
  are cumulative (Table 5 builds C on top of B, as GluonCV's resnet50_v1c does), so C keeps B's
  downsampling.
- D: B + C, and the downsampling shortcut becomes AvgPool2d(2, 2) then a 1x1 conv with stride 1.

Images of at most 64 px get a CIFAR-style stem (3x3 stride 1, no max-pool) so 8-32 px inputs keep
their spatial resolution; larger images get the ImageNet stem (stride 2 conv + 3x3/2 max-pool).

`norm="none"` trains the ResNets without BatchNorm, initialised by Fixup (Zhang, Dauphin & Ma
2019): every normalisation becomes a scalar bias, each residual branch gets scalar biases before
its convolutions and activations and a scalar multiplier, its last conv and the classifier start
at zero, and its other convs are He-initialised and scaled by L^(-1/(2m-2)) (L branches of m
layers). Each residual block then starts as the identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from lrlab.core.errors import LrlabError
from lrlab.core.options import NORMS, VARIANTS
from lrlab.tasks.image.data import DATASETS
from lrlab.tasks.image.named_models import build_named, is_named

SMALL_IMAGE_MAX = 64

_STAGE_CHANNELS = (1, 2, 4, 8)


class ScalarBias(nn.Module):
    """One learnable number added to the input: what Fixup puts where a BatchNorm was."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def _norm(channels: int, norm: str = "batch") -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "batch" else ScalarBias()




class BasicBlock(nn.Module):
    """Two 3x3 convs; the first carries the stride (so variants A and B coincide)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, variant: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, planes, stride, variant)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand; variant A strides the first 1x1, B/C/D stride the 3x3."""

    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int, variant: str) -> None:
        super().__init__()
        stride_1x1, stride_3x3 = (stride, 1) if variant == "A" else (1, stride)
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, 1, stride=stride_1x1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride_3x3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, out_planes, stride, variant)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class FixupBasicBlock(nn.Module):
    """BasicBlock without BatchNorm (Fixup): x + b1a -> conv1 -> + b1b -> ReLU -> + b2a ->
    conv2 -> x scale + b2b, added to the shortcut of x + b1a."""

    expansion = 1
    layers = 2  # m, the weight layers of the branch

    def __init__(self, in_planes: int, planes: int, stride: int, variant: str) -> None:
        super().__init__()
        self.bias1a, self.bias1b, self.bias2a, self.bias2b = (ScalarBias() for _ in range(4))
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.scale = nn.Parameter(torch.ones(1))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, planes, stride, variant, "none")

    @property
    def branch_convs(self) -> tuple[nn.Conv2d, ...]:
        return self.conv1, self.conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bias1a(x)
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bias1b(self.conv1(x)))
        out = self.bias2b(self.conv2(self.bias2a(out)) * self.scale)
        return self.relu(out + identity)


class FixupBottleneck(nn.Module):
    """Bottleneck without BatchNorm (Fixup), strides placed as in Bottleneck."""

    expansion = 4
    layers = 3

    def __init__(self, in_planes: int, planes: int, stride: int, variant: str) -> None:
        super().__init__()
        stride_1x1, stride_3x3 = (stride, 1) if variant == "A" else (1, stride)
        out_planes = planes * self.expansion
        self.bias1a, self.bias1b, self.bias2a, self.bias2b, self.bias3a, self.bias3b = (
            ScalarBias() for _ in range(6))
        self.conv1 = nn.Conv2d(in_planes, planes, 1, stride=stride_1x1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride_3x3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(planes, out_planes, 1, bias=False)
        self.scale = nn.Parameter(torch.ones(1))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_planes, out_planes, stride, variant, "none")

    @property
    def branch_convs(self) -> tuple[nn.Conv2d, ...]:
        return self.conv1, self.conv2, self.conv3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bias1a(x)
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bias1b(self.conv1(x)))
        out = self.relu(self.bias2b(self.conv2(self.bias2a(out))))
        out = self.bias3b(self.conv3(self.bias3a(out)) * self.scale)
        return self.relu(out + identity)


def _shortcut(in_planes: int, out_planes: int, stride: int, variant: str,
              norm: str = "batch") -> nn.Module | None:
    if stride == 1 and in_planes == out_planes:
        return None
    if variant == "D" and stride != 1:
        return nn.Sequential(
            nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False),
            nn.Conv2d(in_planes, out_planes, 1, stride=1, bias=False),
            _norm(out_planes, norm),
        )
    return nn.Sequential(
        nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False), _norm(out_planes, norm)
    )


def _stem(in_channels: int, width: int, variant: str, small: bool,
          norm: str = "batch") -> nn.Sequential:
    first_stride = 1 if small else 2
    if variant in ("C", "D"):
        half = max(width // 2, 1)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, half, 3, stride=first_stride, padding=1, bias=False),
            _norm(half, norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride=1, padding=1, bias=False),
            _norm(half, norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, width, 3, stride=1, padding=1, bias=False),
            _norm(width, norm),
            nn.ReLU(inplace=True),
        ]
    elif small:
        layers = [
            nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
            _norm(width, norm),
            nn.ReLU(inplace=True),
        ]
    else:
        layers = [
            nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
            _norm(width, norm),
            nn.ReLU(inplace=True),
        ]
    if not small:
        layers.append(nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """ResNet whose stem and downsampling blocks follow one of the paper's variants."""

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        *,
        num_classes: int,
        in_channels: int,
        small_input: bool,
        variant: str,
        width: int,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.variant = variant
        if norm == "none":
            block = FixupBasicBlock if block is BasicBlock else FixupBottleneck
        self.stem = _stem(in_channels, width, variant, small_input, norm)
        in_planes = width
        stages: list[nn.Module] = []
        for index, (blocks, factor) in enumerate(zip(layers, _STAGE_CHANNELS, strict=True)):
            planes = width * factor
            stride = 1 if index == 0 else 2
            stage: list[nn.Module] = []
            for block_index in range(blocks):
                stage.append(block(in_planes, planes, stride if block_index == 0 else 1, variant))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc_bias = ScalarBias() if norm == "none" else nn.Identity()
        self.fc = nn.Linear(in_planes, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if norm == "none":
            self._fixup_init()

    def _fixup_init(self) -> None:
        """Fixup's rule: branch convs He-initialised × L^(-1/(2m-2)), each branch's last conv
        and the classifier at zero, so every block starts as the identity. He's fan-in form:
        with no normalisation to rescale them, activations must keep their size going forward
        (the fan-out form shrinks them wherever channels widen, and the classifier, which
        starts at zero, then learns from features near zero)."""
        blocks = self.blocks()
        m = blocks[0].layers
        factor = len(blocks) ** (-1.0 / (2 * m - 2))
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            for block in blocks:
                *scaled, last = block.branch_convs
                for conv in scaled:
                    conv.weight.mul_(factor)
                nn.init.zeros_(last.weight)
            nn.init.zeros_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

    def blocks(self) -> list[nn.Module]:
        kinds = (BasicBlock, Bottleneck, FixupBasicBlock, FixupBottleneck)
        return [m for m in self.modules() if isinstance(m, kinds)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.fc_bias(torch.flatten(self.avgpool(x), 1)))


class SmallCNN(nn.Module):
    """Plain conv net that trains in seconds on CPU: three conv-BN-ReLU stages and a linear head."""

    def __init__(self, *, num_classes: int, in_channels: int, width: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1, bias=False),
            nn.BatchNorm2d(4 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
        )
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.features(x), 1))


Builder = Callable[..., nn.Module]


def _resnet(
    block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, int, int, int]
) -> Builder:
    def build(
        *, num_classes: int, in_channels: int, image_size: int, variant: str, width: int | None,
        norm: str = "batch",
    ) -> nn.Module:
        return ResNet(
            block,
            layers,
            num_classes=num_classes,
            in_channels=in_channels,
            small_input=image_size <= SMALL_IMAGE_MAX,
            variant=variant,
            width=width or 64,
            norm=norm,
        )

    return build


def _small_cnn(
    *, num_classes: int, in_channels: int, image_size: int, variant: str, width: int | None
) -> nn.Module:
    return SmallCNN(num_classes=num_classes, in_channels=in_channels, width=width or 32)


def _mobilenet_v2(
    *, num_classes: int, in_channels: int, image_size: int, variant: str, width: int | None
) -> nn.Module:
    from torchvision.models import mobilenet_v2

    width_mult = 1.0 if width is None else width / 32
    model = mobilenet_v2(weights=None, num_classes=num_classes, width_mult=width_mult)
    first = model.features[0][0]
    if in_channels != first.in_channels or image_size <= SMALL_IMAGE_MAX:
        # Small images keep their resolution with a stride-1 first conv (as for the ResNet stem).
        stride = 1 if image_size <= SMALL_IMAGE_MAX else 2
        model.features[0][0] = nn.Conv2d(
            in_channels, first.out_channels, 3, stride=stride, padding=1, bias=False
        )
        nn.init.kaiming_normal_(model.features[0][0].weight, mode="fan_out")
    return model


MODELS: dict[str, Builder] = {
    "small_cnn": _small_cnn,
    "resnet18": _resnet(BasicBlock, (2, 2, 2, 2)),
    "resnet34": _resnet(BasicBlock, (3, 4, 6, 3)),
    "resnet50": _resnet(Bottleneck, (3, 4, 6, 3)),
    "mobilenet_v2": _mobilenet_v2,
}


def build_model(
    name: str,
    *,
    num_classes: int,
    in_channels: int,
    image_size: int | tuple[int, int],
    variant: str = "A",
    zero_gamma: bool = False,
    width: int | None = None,
    norm: str = "batch",
) -> nn.Module:
    """Build a registered model, or one named ``timm:NAME`` / ``torchvision:NAME``
    (lrlab.tasks.image.named_models); `variant`, `zero_gamma` and `norm` apply to lrlab's own
    ResNets only
    (`norm="none"`: Fixup, whose blocks start as the identity, so zero-γ has nothing to do).

    `image_size` (an int, or a dataset's (H, W)) picks the stem: at most 64 px gets the
    small-image stem. `width` is the base channel count: the ResNets' first stage (default 64;
    narrow ResNets keep CPU runs short), small_cnn's first conv (default 32), and mobilenet_v2's
    first conv (default 32, applied as width_mult = width / 32).
    """
    if isinstance(image_size, tuple):
        image_size = max(image_size)
    if is_named(name):
        if num_classes < 2:
            raise LrlabError(f"num_classes: expected at least 2, got {num_classes}")
        return build_named(name, num_classes=num_classes, in_channels=in_channels)
    if name not in MODELS:
        raise LrlabError(f"model: unknown model {name!r}; expected one of {', '.join(MODELS)}")
    if variant not in VARIANTS:
        raise LrlabError(f"variant: unknown variant {variant!r}; expected one of {VARIANTS}")
    if num_classes < 2:
        raise LrlabError(f"num_classes: expected at least 2, got {num_classes}")
    if in_channels < 1:
        raise LrlabError(f"in_channels: expected at least 1, got {in_channels}")
    if image_size < 1:
        raise LrlabError(f"image_size: expected a positive size, got {image_size}")
    if width is not None and width < 2:
        raise LrlabError(f"width: expected at least 2 base channels, got {width}")
    if norm not in NORMS:
        raise LrlabError(f"norm: expected one of {', '.join(NORMS)}, got {norm!r}")
    if norm != "batch" and not name.startswith("resnet"):
        raise LrlabError(f"norm: {norm!r} (Fixup) is for the ResNets; {name} keeps BatchNorm")
    extra = {"norm": norm} if name.startswith("resnet") else {}
    model = MODELS[name](
        num_classes=num_classes,
        in_channels=in_channels,
        image_size=image_size,
        variant=variant,
        width=width,
        **extra,
    )
    if zero_gamma and isinstance(model, ResNet) and norm == "batch":
        # Each block then starts as an identity map, which makes the early updates of deep nets
        # behave like those of a shallower one (Goyal et al. 2017; He et al. 2019, 3.1).
        for block in model.blocks():
            nn.init.zeros_(block.last_bn.weight)
    return model


@dataclass(frozen=True)
class ModelSummary:
    params: int
    macs: int


def model_summary(model: nn.Module, input_shape: tuple[int, int, int]) -> ModelSummary:
    """Parameters and multiply-accumulates for one image of `input_shape` (C, H, W).

    MACs are counted by forward hooks on Conv2d and Linear layers only (the layers that dominate
    cost); BN, activations and pooling are ignored. FLOPs are about twice the MACs.
    """
    macs = 0

    def count_conv(module: nn.Conv2d, _inputs: object, output: torch.Tensor) -> None:
        nonlocal macs
        kernel = module.kernel_size[0] * module.kernel_size[1]
        per_output = kernel * module.in_channels // module.groups
        macs += output[0].numel() * per_output

    def count_linear(module: nn.Linear, _inputs: object, output: torch.Tensor) -> None:
        nonlocal macs
        macs += output[0].numel() * module.in_features

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(count_conv))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(count_linear))
    was_training = model.training
    model.eval()
    try:
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        with torch.no_grad():
            model(torch.zeros((1, *input_shape), device=device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return ModelSummary(params=params, macs=macs)


def describe_model(
    name: str,
    *,
    input_shape: tuple[int, int, int],
    num_classes: int,
    variant: str = "A",
    width: int | None = None,
) -> str:
    """One line for a page or a log: the model, its parameter count and multiply-adds per image.

    Multiply-adds (MACs) are what the paper and torchvision call "FLOPs" (ResNet-50-D: 4.3 G);
    saying MACs avoids the factor-2 confusion. The model is built for the real input, so the
    small-image stem and the head are counted as they will run.
    """
    channels, height, width_px = input_shape
    model = build_model(name, num_classes=num_classes, in_channels=channels,
                        image_size=(height, width_px), variant=variant, width=width)
    size = model_summary(model, input_shape)
    title = f"{name}-{variant}" if isinstance(model, ResNet) else name
    macs = size.macs
    amount = f"{macs / 1e9:.2f} G MACs" if macs >= 1e9 else f"{macs / 1e6:.1f} M MACs"
    return (f"{title}: {size.params / 1e6:.2f} M parameters, {amount} per "
            f"{height}×{width_px}×{channels} image")


# Counted for this input when a dataset's shape is only known once its folder is read.
TYPICAL_FOLDER_INPUT = (3, 32, 32)


def describe_for_dataset(name: str, dataset: str, *, variant: str = "A",
                         width: int | None = None) -> str:
    """`describe_model` for a registered dataset's images, before any data is loaded."""
    info = DATASETS[dataset]
    shape = info.input_shape or TYPICAL_FOLDER_INPUT
    line = describe_model(name, input_shape=shape, num_classes=info.num_classes or 10,
                          variant=variant, width=width)
    if info.input_shape is None:
        line += " (for example; the run counts the folder's real image size)"
    return line
