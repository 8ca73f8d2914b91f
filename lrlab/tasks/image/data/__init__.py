"""Dataset registry and the loaders.

A set that fits in memory is loaded once into uint8 tensors ([N, C, H, W]) plus int64 labels and
lives on the training device: shuffling, batching, normalisation and augmentation run there as
whole-batch tensor operations, with no per-sample Python work, which is what keeps small-model
training from being input-bound on CPU. An image folder too big to decode into memory stays on
disk and is read by a DataLoader with workers; both loaders yield the same normalised batches.
"""

from __future__ import annotations

import gzip
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from lrlab.core.errors import LrlabError
from lrlab.core.options import AUGMENTATIONS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_IMAGE_SIZE = 32
GREY_MODES = ("1", "L", "LA", "I", "I;16")
# Decoded uint8 pixels above this stay on disk and stream through a DataLoader with workers.
MEMORY_BUDGET_BYTES = 2 * 1024**3
STATS_SAMPLE = 512  # images decoded to estimate the normalisation of a set left on disk


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    description: str
    needs_root: bool
    downloadable: bool
    # (C, H, W) and class count when fixed by the set itself; None for folders of any shape
    input_shape: tuple[int, int, int] | None = None
    num_classes: int | None = None


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "Digits (scikit-learn)", "1,797 handwritten digits, 8x8 grey, offline", False, False,
        (1, 8, 8), 10,
    ),
    "mnist": DatasetInfo("MNIST", "handwritten digits, 28x28 grey (torchvision)", True, True,
                         (1, 28, 28), 10),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST", "clothing items, 28x28 grey (torchvision)", True, True, (1, 28, 28), 10
    ),
    "kmnist": DatasetInfo("KMNIST", "Kuzushiji characters, 28x28 grey (torchvision)", True, True,
                          (1, 28, 28), 10),
    "cifar10": DatasetInfo("CIFAR-10", "10 classes, 32x32 colour (torchvision)", True, True,
                           (3, 32, 32), 10),
    "cifar100": DatasetInfo("CIFAR-100", "100 classes, 32x32 colour (torchvision)", True, True,
                            (3, 32, 32), 100),
    "svhn": DatasetInfo(
        "SVHN", "street-view house numbers, 32x32 colour (torchvision)", True, True, (3, 32, 32),
        10,
    ),
    "idx": DatasetInfo(
        "IDX folder", "any MNIST-format set: {train,t10k}-{images,labels} IDX files", True, False
    ),
    "image_folder": DatasetInfo(
        "Image folder", "your own images, one sub-folder per class", True, False
    ),
    "synthetic": DatasetInfo(
        "Synthetic", "seeded class-conditional patterns for quick tests", False, False,
        (1, 16, 16), 4,
    ),
}


def check_data_root(name: str, root: str | None, *, download: bool = False) -> None:
    """Refuse, before any job is queued, a set that needs a folder without one or with a folder
    that does not exist (unless torchvision may download into it)."""
    info = DATASETS.get(name)
    if info is None or not info.needs_root:
        return
    if root is None:
        raise LrlabError(f"data_root: dataset {name!r} needs a data folder")
    if not download and not Path(root).expanduser().is_dir():
        hint = " (or set download: true)" if info.downloadable else ""
        raise LrlabError(f"data_root: folder {root!r} does not exist{hint}")


@dataclass(frozen=True)
class TensorSplit:
    x: torch.Tensor  # uint8 [N, C, H, W]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class FileSplit:
    """Images left on disk: decoded per batch by a DataLoader at `size` in `mode` (L or RGB)."""

    paths: tuple[Path, ...]
    y: torch.Tensor  # int64 [N]
    size: int
    mode: str

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3


Split = TensorSplit | FileSplit


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: str
    classes: list[str]


@dataclass(frozen=True)
class _Raw:
    """What a source yields: its official splits (val None when it has only one) and metadata."""

    train: Split
    val: Split | None
    classes: list[str]
    augment: str


# ---------------------------------------------------------------------------------------------
# Sources


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as (images [N, 8, 8] in 0..16, targets).

    Read from the CSV scikit-learn ships, found without importing `sklearn.datasets` (that
    import alone costs ~2 s, paid by every job on digits); `load_digits` when the file is not
    where scikit-learn keeps it.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images, bunch.target.astype(np.int64)


def _digits(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
    images, targets = _digits_arrays()
    # Pixel values are counts 0..16; scale them onto the uint8 range every other set uses.
    pixels = np.rint(images * (255.0 / 16.0)).astype(np.uint8)
    x = torch.from_numpy(pixels).unsqueeze(1)
    y = torch.from_numpy(targets)
    return _Raw(TensorSplit(x, y), None, [str(c) for c in range(10)], "shift")


def _torchvision(kind: str) -> Callable[[Path | None, bool, int, int | None], _Raw]:
    def load(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
        import torchvision.datasets as tvd

        root = _require_root(kind, root, must_exist=not download)
        try:
            if kind == "svhn":
                train_set = tvd.SVHN(str(root), split="train", download=download)
                test_set = tvd.SVHN(str(root), split="test", download=download)
                splits = [
                    TensorSplit(
                        torch.from_numpy(np.ascontiguousarray(s.data)),
                        torch.from_numpy(np.asarray(s.labels, dtype=np.int64)),
                    )
                    for s in (train_set, test_set)
                ]
                return _Raw(splits[0], splits[1], [str(c) for c in range(10)], "shift")
            cls = {
                "mnist": tvd.MNIST,
                "fashion_mnist": tvd.FashionMNIST,
                "kmnist": tvd.KMNIST,
                "cifar10": tvd.CIFAR10,
                "cifar100": tvd.CIFAR100,
            }[kind]
            train_set = cls(str(root), train=True, download=download)
            test_set = cls(str(root), train=False, download=download)
        except RuntimeError as error:  # torchvision: "Dataset not found or corrupted..."
            raise LrlabError(
                f"root: {kind} not found or corrupted under {root} ({error}); "
                "pass download=True (--download) to fetch it"
            ) from error
        splits = []
        for subset in (train_set, test_set):
            data = torch.as_tensor(np.asarray(subset.data), dtype=torch.uint8)
            data = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
            labels = torch.as_tensor(np.asarray(subset.targets), dtype=torch.int64)
            splits.append(TensorSplit(data.contiguous(), labels))
        augment = "crop_flip" if kind.startswith("cifar") else "shift"
        return _Raw(splits[0], splits[1], list(train_set.classes), augment)

    return load


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (raw or gzip): magic 0x0000 <dtype> <ndim>, big-endian int32 dims, data."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise LrlabError(f"{path}: not a valid gzip file ({error})") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise LrlabError(
            f"{path}: bad IDX magic number {raw[:4].hex()!r}; expected 0000 then a type code "
            "(08 for uint8) and the number of dimensions"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise LrlabError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise LrlabError(
            f"{path}: IDX header promises shape {shape} ({expected} bytes) "
            f"but the file holds {len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _idx_split(folder: Path, prefix: str) -> TensorSplit | None:
    images_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
    if images_path is None:
        return None
    labels_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
    if labels_path is None:
        raise LrlabError(f"root: expected {prefix}-labels-idx1-ubyte[.gz] in {folder}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise LrlabError(f"{images_path}: expected uint8 images [N, H, W], got {images.shape}")
    if labels.ndim != 1:
        raise LrlabError(f"{labels_path}: expected a 1-D label vector, got {labels.shape}")
    if len(images) != len(labels):
        raise LrlabError(
            f"{folder}: {images_path.name} holds {len(images)} images but "
            f"{labels_path.name} holds {len(labels)} labels"
        )
    x = torch.from_numpy(images.copy()).unsqueeze(1)
    return TensorSplit(x, torch.from_numpy(labels.astype(np.int64)))


def _idx(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
    folder = _require_root("idx", root, must_exist=True)
    train = _idx_split(folder, "train")
    test = _idx_split(folder, "t10k")
    if train is None and test is None:
        raise LrlabError(
            "root: expected train-images-idx3-ubyte[.gz] or "
            f"t10k-images-idx3-ubyte[.gz] in {folder}"
        )
    if train is None:
        train, test = test, None
    assert train is not None
    num_classes = int(train.y.max()) + 1
    return _Raw(train, test, [str(c) for c in range(num_classes)], "shift")


def _decode(path: Path, mode: str, size: int) -> np.ndarray:
    """One image as uint8 [C, H, W] at `size` x `size` in `mode`."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.array(image.convert(mode).resize((size, size), Image.BILINEAR))
    return pixels[None] if pixels.ndim == 2 else np.ascontiguousarray(pixels.transpose(2, 0, 1))


def _folder_mode(paths: list[Path]) -> str:
    """Grey sets stay one-channel; any colour image makes the whole set RGB. Reading a header
    does not decode the pixels, so this is cheap even for a large set."""
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            if image.mode not in GREY_MODES:
                return "RGB"
    return "L"


def _image_folder(
    root: Path | None, image_size: int | None, in_memory: bool | None, memory_budget: int
) -> _Raw:
    """torchvision's ImageFolder layout: one sub-folder per class, classes in sorted order."""
    folder = _require_root("image_folder", root, must_exist=True)
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
    if not class_dirs:
        raise LrlabError(f"root: {folder} has no class sub-folders (expected one folder of "
                         "images per class)")
    files: list[tuple[Path, int]] = []
    for label, class_dir in enumerate(class_dirs):
        found = [p for p in sorted(class_dir.rglob("*"))
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not found:
            # An empty class would keep its index but have no examples; torchvision refuses it
            # too (FileNotFoundError), and a silent gap would shift every later class name.
            raise LrlabError(f"root: class folder {class_dir} has no images (expected at least "
                             f"one {', '.join(IMAGE_SUFFIXES)} file)")
        files += [(p, label) for p in found]
    paths = [p for p, _ in files]
    size = image_size or DEFAULT_FOLDER_IMAGE_SIZE
    mode = _folder_mode(paths)
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    classes = [d.name for d in class_dirs]
    decoded_bytes = len(paths) * (1 if mode == "L" else 3) * size * size
    if in_memory is False or (in_memory is None and decoded_bytes > memory_budget):
        return _Raw(FileSplit(tuple(paths), y, size, mode), None, classes, "crop_flip")
    x = torch.from_numpy(np.stack([_decode(p, mode, size) for p in paths]))
    return _Raw(TensorSplit(x, y), None, classes, "crop_flip")


SYNTHETIC_CLASSES = 4
SYNTHETIC_SIZE = 1200
SYNTHETIC_PIXELS = 16


def _synthetic(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
    """Each class is a fixed random template plus per-image noise: learnable, but not trivially."""
    size = image_size or SYNTHETIC_PIXELS
    generator = torch.Generator().manual_seed(seed)
    templates = torch.rand(SYNTHETIC_CLASSES, 1, size, size, generator=generator)
    y = torch.arange(SYNTHETIC_SIZE) % SYNTHETIC_CLASSES
    noise = torch.rand(SYNTHETIC_SIZE, 1, size, size, generator=generator)
    x = (0.6 * templates[y] + 0.4 * noise) * 255
    classes = [f"pattern {c}" for c in range(SYNTHETIC_CLASSES)]
    return _Raw(TensorSplit(x.round().to(torch.uint8), y), None, classes, "none")


_SOURCES: dict[str, Callable[[Path | None, bool, int, int | None], _Raw]] = {
    "digits": _digits,
    "mnist": _torchvision("mnist"),
    "fashion_mnist": _torchvision("fashion_mnist"),
    "kmnist": _torchvision("kmnist"),
    "cifar10": _torchvision("cifar10"),
    "cifar100": _torchvision("cifar100"),
    "svhn": _torchvision("svhn"),
    "idx": _idx,
    "synthetic": _synthetic,
}


def _require_root(name: str, root: Path | None, *, must_exist: bool) -> Path:
    if root is None:
        raise LrlabError(f"root: dataset {name!r} needs a root folder")
    if must_exist and not root.is_dir():
        raise LrlabError(f"root: folder {root} for dataset {name!r} does not exist")
    return root


# ---------------------------------------------------------------------------------------------
# Splitting, limiting, statistics


def _stratified_order(y: torch.Tensor, seed: int) -> torch.Tensor:
    """A seeded permutation whose every prefix holds the classes in their overall proportions."""
    generator = torch.Generator().manual_seed(seed)
    keys = torch.empty(len(y), dtype=torch.float64)
    for label in torch.unique(y):
        members = torch.nonzero(y == label).flatten()
        shuffled = members[torch.randperm(len(members), generator=generator)]
        keys[shuffled] = (torch.arange(len(members), dtype=torch.float64) + 0.5) / len(members)
    return torch.argsort(keys, stable=True)


def _take(split: Split, index: torch.Tensor) -> Split:
    index = torch.sort(index).values  # keep the source order: cheap, and stable across seeds
    if isinstance(split, FileSplit):
        paths = tuple(split.paths[i] for i in index.tolist())
        return FileSplit(paths, split.y[index].contiguous(), split.size, split.mode)
    return TensorSplit(split.x[index].contiguous(), split.y[index].contiguous())


def _limit(split: Split, limit: int | None, seed: int) -> Split:
    if limit is None or limit >= len(split):
        return split
    return _take(split, _stratified_order(split.y, seed)[:limit])


def stratified_split(split: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Per class, a seeded share of `val_fraction` (rounded) goes to validation."""
    generator = torch.Generator().manual_seed(seed)
    train_parts, val_parts = [], []
    for label in torch.unique(split.y):
        members = torch.nonzero(split.y == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = round(len(members) * val_fraction)
        if len(members) > 1:
            n_val = min(max(n_val, 1), len(members) - 1)
        val_parts.append(members[:n_val])
        train_parts.append(members[n_val:])
    return _take(split, torch.cat(train_parts)), _take(split, torch.cat(val_parts))


def _channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std in [0, 1] units, accumulated in float64 chunks to bound memory."""
    channels = x.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(x), 4096):
        chunk = x[start : start + 4096].to(torch.float64) / 255.0
        total += chunk.sum(dim=(0, 2, 3))
        squares += (chunk * chunk).sum(dim=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = (squares / count - mean * mean).clamp_min(0).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def _split_stats(split: Split, seed: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Normalisation of the training split; a set on disk is estimated from a seeded sample."""
    if isinstance(split, TensorSplit):
        return _channel_stats(split.x)
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(split), generator=generator)[:STATS_SAMPLE].tolist()
    pixels = np.stack([_decode(split.paths[i], split.mode, split.size) for i in sample])
    return _channel_stats(torch.from_numpy(pixels))


def _resize(split: Split, size: int) -> Split:
    if isinstance(split, FileSplit):
        return FileSplit(split.paths, split.y, size, split.mode)
    if split.x.shape[-2:] == (size, size):
        return split
    resized = functional.interpolate(
        split.x.float(), size=(size, size), mode="bilinear", antialias=True
    )
    return TensorSplit(resized.round().clamp(0, 255).to(torch.uint8), split.y)


def load_dataset(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = False,
    val_fraction: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    image_size: int | None = None,
    in_memory: bool | None = None,
    memory_budget: int = MEMORY_BUDGET_BYTES,
) -> Dataset:
    """Load a registered set with a train and a validation split.

    Sets with official splits keep them (the test split is the validation split); sets with one
    split get a seeded stratified split of `val_fraction`. `limit` caps each source split to a
    seeded, class-proportional subset before splitting. `image_size` resizes every image.
    An image folder whose decoded pixels exceed `memory_budget` bytes (or any image folder with
    `in_memory=False`) stays on disk; every other set is decoded into memory.
    """
    if name not in DATASETS:
        raise LrlabError(
            f"dataset: unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        )
    if not 0.0 < val_fraction < 1.0:
        raise LrlabError(f"val_fraction: expected a number in (0, 1), got {val_fraction}")
    if limit is not None and limit < 2:
        raise LrlabError(f"limit: expected at least 2 examples, got {limit}")
    if image_size is not None and image_size < 1:
        raise LrlabError(f"image_size: expected a positive size, got {image_size}")
    folder = Path(root) if root is not None else None
    if name == "image_folder":
        raw = _image_folder(folder, image_size, in_memory, memory_budget)
    elif in_memory is False:
        raise LrlabError(f"in_memory: only image_folder sets can stay on disk; {name!r} is "
                         "always loaded into memory")
    else:
        raw = _SOURCES[name](folder, download, seed, image_size)
    train = _limit(raw.train, limit, seed)
    if raw.val is None:
        train, val = stratified_split(train, val_fraction, seed)
    else:
        val = _limit(raw.val, limit, seed)
    if image_size is not None:
        train, val = _resize(train, image_size), _resize(val, image_size)
    mean, std = _split_stats(train, seed)
    num_classes = max(len(raw.classes), int(train.y.max()) + 1, int(val.y.max()) + 1)
    if isinstance(train, FileSplit):
        channels, height, width = train.channels, train.size, train.size
    else:
        channels, height, width = (int(n) for n in train.x.shape[1:])
    return Dataset(
        name=name,
        train=train,
        val=val,
        num_classes=num_classes,
        in_channels=channels,
        image_size=(height, width),
        mean=mean,
        std=std,
        augment=raw.augment,
        classes=list(raw.classes),
    )


# ---------------------------------------------------------------------------------------------
# Loader


def _shift_padding(height: int) -> int:
    return 1 if height < 16 else 2


def _crop_padding(height: int) -> int:
    return max(1, height // 8)  # 4 px on 32 px images, as in the ResNet CIFAR recipe


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch: order and augmentation.

    Seeded from (seed, epoch) through numpy's SeedSequence, so streams never overlap: with
    `seed + epoch` seed 0's second epoch would repeat seed 1's first, and runs "with different
    seeds" would share their data orders.
    """
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class _BatchTransform:
    """uint8 images on the device -> augmented, normalised float32, as whole-batch operations."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...], device: torch.device,
                 augment: str) -> None:
        shape = (1, len(mean), 1, 1)
        self.augment = augment
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(shape) * 255
        self._inv_std = 1.0 / (
            torch.tensor(std, dtype=torch.float32, device=device).view(shape) * 255
        )

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        images = images.float()
        if self.augment in ("crop", "crop_flip"):
            images = _random_crop(images, _crop_padding(images.shape[2]), generator)
        if self.augment == "crop_flip":
            images = _random_flip(images, generator)
        elif self.augment == "shift":
            images = _random_crop(images, _shift_padding(images.shape[2]), generator)
        return (images - self._mean) * self._inv_std


class _EpochLoader:
    """What both loaders share: length, epochs (`set_epoch`, as DistributedSampler has it, so a
    resumed run sees epoch k's order again) and the epoch's permutation."""

    def __init__(self, n: int, batch_size: int, *, shuffle: bool, drop_last: bool,
                 seed: int) -> None:
        self.batch_size = batch_size
        self.shuffle = shuffle
        # Never let drop_last turn a small split into zero batches.
        self.drop_last = drop_last and n >= batch_size
        self.seed = seed
        self.epoch = 0
        self._n = n
        self.batch_plan: Callable[[int], int] | None = None
        self.updates = 0  # batches handed out over all epochs: the batch plan's clock
        self.rank, self.world = 0, 1

    def shard(self, rank: int, world: int) -> None:
        """Hand out only this rank's part of every batch (data parallel): the same global
        batches as one process, each split into `world` near-equal consecutive parts."""
        if not 0 <= rank < world:
            raise LrlabError(f"rank: expected 0 <= rank < {world}, got {rank}")
        self.rank, self.world = rank, world

    def _part(self, start: int, stop: int) -> tuple[int, int]:
        base, extra = divmod(stop - start, self.world)
        first = start + self.rank * base + min(self.rank, extra)
        return first, first + base + (1 if self.rank < extra else 0)

    def follow_plan(self, batch_at: Callable[[int], int], updates_done: int = 0) -> None:
        """Give update u a batch of batch_at(u) from now on (a batch-size schedule)."""
        self.batch_plan = batch_at
        self.updates = updates_done

    def _spans(self, first_update: int | None = None) -> list[tuple[int, int]]:
        """(start, stop) in the epoch's order of each batch of an epoch whose first batch is
        update `first_update` (default: the next one)."""
        n = self._n
        if self.batch_plan is None:
            return [(i * self.batch_size, min(n, (i + 1) * self.batch_size))
                    for i in range(len(self))]
        spans: list[tuple[int, int]] = []
        start, update = 0, self.updates if first_update is None else first_update
        while start < n:
            size = self.batch_plan(update)
            if self.drop_last and start + size > n and spans:
                break
            spans.append((start, min(n, start + size)))
            start, update = start + size, update + 1
        return spans

    def planned_updates(self, epochs: int) -> int:
        """Batches in the next `epochs` epochs (they vary under a batch plan)."""
        if self.batch_plan is None:
            return len(self) * epochs
        update = self.updates
        for _ in range(epochs):
            update += len(self._spans(update))
        return update - self.updates

    def __len__(self) -> int:
        n = self._n
        if self.batch_plan is not None:
            return len(self._spans())
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_examples(self) -> int:
        return self._n

    def set_epoch(self, epoch: int) -> None:
        if epoch < 0:
            raise LrlabError(f"epoch: expected a non-negative integer, got {epoch}")
        self.epoch = epoch

    def _next_epoch(self) -> tuple[torch.Generator, torch.Tensor]:
        generator = epoch_generator(self.seed, self.epoch)
        self.epoch += 1
        if self.shuffle:
            return generator, torch.randperm(self._n, generator=generator)
        return generator, torch.arange(self._n)


class BatchLoader(_EpochLoader):
    """Re-iterable batches of (normalised float32 images, int64 labels) on the device, from a set
    held there as uint8 tensors. Each pass is one epoch with its own order and augmentation."""

    def __init__(
        self,
        split: TensorSplit,
        *,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device,
        shuffle: bool,
        augment: str,
        drop_last: bool,
        seed: int,
    ) -> None:
        super().__init__(len(split), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
        self.device = device
        self.augment = augment
        self.x = _to_device(split.x, device)
        self.y = _to_device(split.y, device)
        self._transform = _BatchTransform(mean, std, device, augment)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        spans = self._spans()
        generator, order = self._next_epoch()
        order = order.to(self.device)
        for start, stop in spans:
            self.updates += 1
            start, stop = self._part(start, stop)
            if start == stop:  # a short last batch split over more ranks than examples
                continue
            index = order[start:stop]
            yield self._transform(self.x[index], generator), self.y[index]


class _DecodedImages(torch.utils.data.Dataset):
    def __init__(self, split: FileSplit) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.split
        return torch.from_numpy(_decode(s.paths[i], s.mode, s.size)), s.y[i]


class FileLoader(_EpochLoader):
    """The same batches as BatchLoader for a set on disk: worker processes decode the images,
    the device augments and normalises each batch."""

    def __init__(
        self,
        split: FileSplit,
        *,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        device: torch.device,
        shuffle: bool,
        augment: str,
        drop_last: bool,
        seed: int,
        num_workers: int,
    ) -> None:
        super().__init__(len(split), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
        self.device = device
        self.augment = augment
        self.num_workers = num_workers
        self._images = _DecodedImages(split)
        self._transform = _BatchTransform(mean, std, device, augment)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        spans = self._spans()
        generator, order = self._next_epoch()
        cuda = self.device.type == "cuda"
        indices = order.tolist()
        parts = [self._part(a, b) for a, b in spans]
        batches = torch.utils.data.DataLoader(
            self._images, batch_sampler=[indices[a:b] for a, b in parts if b > a],
            num_workers=self.num_workers,
            pin_memory=cuda,  # page-locked batches copy to the GPU asynchronously
            persistent_workers=False)
        for x, y in batches:
            x = x.to(self.device, non_blocking=cuda)
            self.updates += 1
            yield self._transform(x, generator), y.to(self.device, non_blocking=cuda)


def default_workers() -> int:
    """Decoding workers for a set on disk: every core but one (the training loop's)."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _random_crop(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by `padding` and crop back to size at a random offset per image.

    One gather over the flattened padded images: a crop is the fixed window of flat indices
    shifted by row_offset * padded_width + column_offset (several times faster than 4-D
    advanced indexing).
    """
    b, c, h, w = images.shape
    padded = functional.pad(images, (padding, padding, padding, padding))
    padded_w = w + 2 * padding
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(images.device)
    window = torch.arange(h, device=images.device)[:, None] * padded_w
    window = (window + torch.arange(w, device=images.device)).flatten()  # [H * W]
    index = window[None, :] + (offsets[0] * padded_w + offsets[1])[:, None]  # [B, H * W]
    flat = padded.reshape(b, c, -1)
    return flat.gather(2, index[:, None, :].expand(b, c, h * w)).view(b, c, h, w)


def _random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def _to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type == "cuda" and tensor.device.type == "cpu":
        # A pinned source lets the one-off host-to-device copy run asynchronously.
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def make_loader(
    dataset: Dataset,
    split: str,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    shuffle: bool | None = None,
    augment: bool | str | None = None,
    drop_last: bool | None = None,
    seed: int = 0,
    num_workers: int | None = None,
) -> BatchLoader | FileLoader:
    """A loader for `split` ("train" or "val"); train shuffles, augments and drops the last
    partial batch by default, val does none of these. `augment` is True/"auto" (the dataset's
    own), False/"none", or "shift", "crop", "crop_flip". A split on disk gets a FileLoader with
    `num_workers` decoding processes (default: every core but one)."""
    if split not in ("train", "val"):
        raise LrlabError(f"split: expected 'train' or 'val', got {split!r}")
    if batch_size < 1:
        raise LrlabError(f"batch_size: expected a positive integer, got {batch_size}")
    is_train = split == "train"
    if augment is None:
        augment = is_train
    if isinstance(augment, bool):
        augment = "auto" if augment else "none"
    if augment not in AUGMENTATIONS:
        raise LrlabError(f"augment: expected one of {', '.join(AUGMENTATIONS)}, got {augment!r}")
    source = dataset.train if is_train else dataset.val
    options = {
        "batch_size": batch_size,
        "mean": dataset.mean,
        "std": dataset.std,
        "device": torch.device(device),
        "shuffle": is_train if shuffle is None else shuffle,
        "augment": dataset.augment if augment == "auto" else augment,
        "drop_last": is_train if drop_last is None else drop_last,
        "seed": seed,
    }
    if isinstance(source, FileSplit):
        workers = default_workers() if num_workers is None else num_workers
        return FileLoader(source, num_workers=workers, **options)
    return BatchLoader(source, **options)
