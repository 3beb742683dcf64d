"""Data sets: built-in real data (sklearn digits, mnist1d), synthetic spheres, user arrays."""

from kernelnorm.data._builtin import (
    DATASET_SPECS,
    Dataset,
    check_data_matrix,
    load_array,
    load_dataset,
    load_digits,
    load_mnist1d,
    normalise_rows,
    sphere_points,
)
from kernelnorm.data._files import (
    IMAGE_DATASET_SPECS,
    load_cifar10_binary,
    load_cifar100_binary,
    load_image_dataset,
    load_mnist_idx,
    read_cifar_binary,
    read_idx,
)

__all__ = [
    "DATASET_SPECS", "Dataset", "check_data_matrix", "load_array", "load_dataset", "load_digits", "load_mnist1d",
    "normalise_rows", "sphere_points",
    "IMAGE_DATASET_SPECS", "load_cifar10_binary", "load_cifar100_binary", "load_image_dataset",
    "load_mnist_idx", "read_cifar_binary", "read_idx",
]
