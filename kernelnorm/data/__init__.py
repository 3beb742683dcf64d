"""Data sets: built-in real data (sklearn digits, mnist1d), synthetic spheres, user arrays."""

from kernelnorm.data._builtin import (
    DATASET_SPECS,
    Dataset,
    load_array,
    load_dataset,
    load_digits,
    load_mnist1d,
    normalise_rows,
    sphere_points,
)

__all__ = [
    "DATASET_SPECS", "Dataset", "load_array", "load_dataset", "load_digits", "load_mnist1d",
    "normalise_rows", "sphere_points",
]
