"""Readers of each dataset's own format, down to uint8 pixels and int64 labels: scikit-learn's
digits, torchvision's sets, IDX files, image folders and seeded synthetic patterns."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lrlab.core.errors import LrlabError
from lrlab.tasks.image.data.splits import FileSplit, Split, TensorSplit, decode_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_IMAGE_SIZE = 32
GREY_MODES = ("1", "L", "LA", "I", "I;16")
# Decoded uint8 pixels above this stay on disk and stream through a DataLoader with workers.
MEMORY_BUDGET_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class _Raw:
    """What a source yields: its official splits (val None when it has only one) and metadata."""

    train: Split
    val: Split | None
    classes: list[str]
    augment: str



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


def _folder_mode(paths: list[Path]) -> str:
    """Grey sets stay one-channel; any colour image makes the whole set RGB. Reading a header
    does not decode the pixels, so this is cheap even for a large set."""
    from PIL import Image

    for path in paths:
        with Image.open(path) as image:
            if image.mode not in GREY_MODES:
                return "RGB"
    return "L"


def image_folder(
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
    x = torch.from_numpy(np.stack([decode_image(p, mode, size) for p in paths]))
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


SOURCES: dict[str, Callable[[Path | None, bool, int, int | None], _Raw]] = {
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


def _idx_labels(root: Path | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    folder = _require_root("idx", root, must_exist=True)
    found = []
    for prefix in ("train", "t10k"):
        path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        images = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
        found.append(None if path is None or images is None
                     else torch.from_numpy(read_idx(path).astype(np.int64)))
    train, test = found
    if train is None and test is None:
        raise LrlabError("root: expected train-images-idx3-ubyte[.gz] or "
                         f"t10k-images-idx3-ubyte[.gz] in {folder}")
    return (test, None) if train is None else (train, test)


def _folder_labels(root: Path | None) -> tuple[torch.Tensor, None]:
    folder = _require_root("image_folder", root, must_exist=True)
    labels = [label for label, class_dir in enumerate(sorted(p for p in folder.iterdir()
                                                             if p.is_dir()))
              for p in class_dir.rglob("*")
              if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return torch.tensor(labels, dtype=torch.int64), None


def labels_of(name: str, root: Path | None, download: bool,
              seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A set's training labels and its official validation labels (None when it has one split),
    read without decoding an image where the format allows: digits, IDX files, image folders
    and synthetic sets. torchvision's sets are read whole, as torchvision reads them."""
    if name == "idx":
        return _idx_labels(root)
    if name == "image_folder":
        return _folder_labels(root)
    if name == "digits":
        return torch.from_numpy(_digits_arrays()[1]), None
    if name == "synthetic":
        return torch.arange(SYNTHETIC_SIZE) % SYNTHETIC_CLASSES, None
    raw = SOURCES[name](root, download, seed, None)
    return raw.train.y, None if raw.val is None else raw.val.y
