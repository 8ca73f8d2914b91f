"""Dataset registry and the on-device batch loader.

Every set is loaded once into uint8 tensors ([N, C, H, W]) plus int64 labels. Sets small enough
for memory (all the registered ones) then live on the training device: shuffling, batching,
normalisation and augmentation run there as whole-batch tensor operations, with no per-sample
Python work, which is what keeps small-model training from being input-bound on CPU.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional

from lrlab.errors import LrlabError

AUGMENTATIONS = ("crop_flip", "shift", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_IMAGE_SIZE = 32


@dataclass(frozen=True)
class DatasetInfo:
    title: str
    description: str
    needs_root: bool
    downloadable: bool


DATASETS: dict[str, DatasetInfo] = {
    "digits": DatasetInfo(
        "Digits (scikit-learn)", "1,797 handwritten digits, 8x8 grey, offline", False, False
    ),
    "mnist": DatasetInfo("MNIST", "handwritten digits, 28x28 grey (torchvision)", True, True),
    "fashion_mnist": DatasetInfo(
        "Fashion-MNIST", "clothing items, 28x28 grey (torchvision)", True, True
    ),
    "kmnist": DatasetInfo("KMNIST", "Kuzushiji characters, 28x28 grey (torchvision)", True, True),
    "cifar10": DatasetInfo("CIFAR-10", "10 classes, 32x32 colour (torchvision)", True, True),
    "cifar100": DatasetInfo("CIFAR-100", "100 classes, 32x32 colour (torchvision)", True, True),
    "svhn": DatasetInfo(
        "SVHN", "street-view house numbers, 32x32 colour (torchvision)", True, True
    ),
    "idx": DatasetInfo(
        "IDX folder", "any MNIST-format set: {train,t10k}-{images,labels} IDX files", True, False
    ),
    "image_folder": DatasetInfo(
        "Image folder", "your own images, one sub-folder per class", True, False
    ),
    "synthetic": DatasetInfo(
        "Synthetic", "seeded class-conditional patterns for quick tests", False, False
    ),
}


@dataclass(frozen=True)
class TensorSplit:
    x: torch.Tensor  # uint8 [N, C, H, W]
    y: torch.Tensor  # int64 [N]

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class Dataset:
    name: str
    train: TensorSplit
    val: TensorSplit
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

    train: TensorSplit
    val: TensorSplit | None
    classes: list[str]
    augment: str


# ---------------------------------------------------------------------------------------------
# Sources


def _digits(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixel values are counts 0..16; scale them onto the uint8 range every other set uses.
    pixels = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    x = torch.from_numpy(pixels).unsqueeze(1)
    y = torch.from_numpy(bunch.target.astype(np.int64))
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


def _image_folder(root: Path | None, download: bool, seed: int, image_size: int | None) -> _Raw:
    from PIL import Image

    folder = _require_root("image_folder", root, must_exist=True)
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir())
    files: list[tuple[Path, int]] = []
    for label, class_dir in enumerate(class_dirs):
        files += [
            (p, label)
            for p in sorted(class_dir.rglob("*"))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
    if not files:
        raise LrlabError(
            f"root: no images ({', '.join(IMAGE_SUFFIXES)}) in class sub-folders of {folder}"
        )
    size = image_size or DEFAULT_FOLDER_IMAGE_SIZE
    images = []
    for path, _ in files:
        with Image.open(path) as image:
            images.append(image.copy())
    # Grey sets stay one-channel; any colour image makes the whole set RGB.
    mode = "L" if all(im.mode in ("1", "L", "LA", "I", "I;16") for im in images) else "RGB"
    pixels = np.stack(
        [np.asarray(im.convert(mode).resize((size, size), Image.BILINEAR)) for im in images]
    )
    x = torch.from_numpy(pixels)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()
    y = torch.tensor([label for _, label in files], dtype=torch.int64)
    used = sorted(set(y.tolist()))
    return _Raw(TensorSplit(x, y), None, [class_dirs[i].name for i in used], "crop_flip")


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
    "image_folder": _image_folder,
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


def _take(split: TensorSplit, index: torch.Tensor) -> TensorSplit:
    index = torch.sort(index).values  # keep the source order: cheap, and stable across seeds
    return TensorSplit(split.x[index].contiguous(), split.y[index].contiguous())


def _limit(split: TensorSplit, limit: int | None, seed: int) -> TensorSplit:
    if limit is None or limit >= len(split):
        return split
    return _take(split, _stratified_order(split.y, seed)[:limit])


def stratified_split(
    split: TensorSplit, val_fraction: float, seed: int
) -> tuple[TensorSplit, TensorSplit]:
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


def _resize(split: TensorSplit, size: int) -> TensorSplit:
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
) -> Dataset:
    """Load a registered set into uint8 tensors with a train and a validation split.

    Sets with official splits keep them (the test split is the validation split); sets with one
    split get a seeded stratified split of `val_fraction`. `limit` caps each source split to a
    seeded, class-proportional subset before splitting. `image_size` resizes every image.
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
    raw = _SOURCES[name](Path(root) if root is not None else None, download, seed, image_size)
    train = _limit(raw.train, limit, seed)
    if raw.val is None:
        train, val = stratified_split(train, val_fraction, seed)
    else:
        val = _limit(raw.val, limit, seed)
    if image_size is not None:
        train, val = _resize(train, image_size), _resize(val, image_size)
    mean, std = _channel_stats(train.x)
    num_classes = max(len(raw.classes), int(train.y.max()) + 1, int(val.y.max()) + 1)
    return Dataset(
        name=name,
        train=train,
        val=val,
        num_classes=num_classes,
        in_channels=int(train.x.shape[1]),
        image_size=(int(train.x.shape[2]), int(train.x.shape[3])),
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


class BatchLoader:
    """Re-iterable batches of (normalised float32 images, int64 labels) on the device.

    Each pass is one epoch; the order (and the augmentation) of epoch k is drawn from seed + k, so
    a run is reproducible and every epoch is reshuffled.
    """

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
        self.device = device
        self.x = _to_device(split.x, device)
        self.y = _to_device(split.y, device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        # Never let drop_last turn a small split into zero batches.
        self.drop_last = drop_last and len(split) >= batch_size
        self.seed = seed
        self.epoch = 0
        shape = (1, len(mean), 1, 1)
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(shape) * 255
        self._inv_std = 1.0 / (
            torch.tensor(std, dtype=torch.float32, device=device).view(shape) * 255
        )

    def __len__(self) -> int:
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_examples(self) -> int:
        return len(self.y)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        n = len(self.y)
        if self.shuffle:
            order = torch.randperm(n, generator=generator).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            images = self.x[index].float()
            if self.augment == "crop_flip":
                images = _random_crop(images, _crop_padding(images.shape[2]), generator)
                images = _random_flip(images, generator)
            elif self.augment == "shift":
                images = _random_crop(images, _shift_padding(images.shape[2]), generator)
            yield (images - self._mean) * self._inv_std, self.y[index]


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
    augment: bool | None = None,
    drop_last: bool | None = None,
    seed: int = 0,
) -> BatchLoader:
    """A loader for `split` ("train" or "val"); train shuffles, augments and drops the last
    partial batch by default, val does none of these."""
    if split not in ("train", "val"):
        raise LrlabError(f"split: expected 'train' or 'val', got {split!r}")
    if batch_size < 1:
        raise LrlabError(f"batch_size: expected a positive integer, got {batch_size}")
    is_train = split == "train"
    use_augment = is_train if augment is None else augment
    return BatchLoader(
        dataset.train if is_train else dataset.val,
        batch_size=batch_size,
        mean=dataset.mean,
        std=dataset.std,
        device=torch.device(device),
        shuffle=is_train if shuffle is None else shuffle,
        augment=dataset.augment if use_augment else "none",
        drop_last=is_train if drop_last is None else drop_last,
        seed=seed,
    )
