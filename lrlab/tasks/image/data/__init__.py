"""The built-in datasets: their registry, readers, splits, augmentation and loaders.

A set that fits in memory is loaded once into uint8 tensors ([N, C, H, W]) plus int64 labels and
lives on the training device: shuffling, batching, normalisation and augmentation run there as
whole-batch tensor operations, with no per-sample Python work, which is what keeps small-model
training from being input-bound on CPU. An image folder too big to decode into memory stays on
disk and is read by a DataLoader with workers; both loaders yield the same normalised batches.
"""

from lrlab.tasks.image.data.dataset import load_dataset, train_examples
from lrlab.tasks.image.data.loaders import (
    BatchLoader,
    EpochPlan,
    FileLoader,
    default_workers,
    make_loader,
)
from lrlab.tasks.image.data.registry import DATASETS, DatasetInfo, check_data_root
from lrlab.tasks.image.data.sources import read_idx
from lrlab.tasks.image.data.splits import Dataset, FileSplit, TensorSplit, stratified_split

__all__ = ["DATASETS", "BatchLoader", "Dataset", "DatasetInfo", "EpochPlan", "FileLoader",
           "FileSplit", "TensorSplit", "check_data_root", "default_workers", "load_dataset",
           "make_loader", "read_idx", "stratified_split", "train_examples"]
