"""Inputs of the random nets: digits images (upsampled or tiled), mnist1d (1-D), synthetic."""

from __future__ import annotations

import numpy as np

from kernelnorm._costs import check_power_inputs
from kernelnorm._errors import KernelnormInputError, check_seed

SOURCES = ("digits", "digits-tiled", "mnist1d", "gaussian")


def _resize_1d(x: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of every row of ``x`` to ``length`` samples."""
    old = np.linspace(0.0, 1.0, x.shape[1])
    new = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(new, old, row) for row in x])


def _images_to(images: np.ndarray, resolution: int, *, tile: bool) -> np.ndarray:
    """``(N, 8, 8)`` images to ``(N, R, R)``: nearest upsampling (``R`` a multiple of 8) or
    periodic tiling cropped to ``R``."""
    side = images.shape[1]
    if tile:
        reps = -(-resolution // side)
        return np.tile(images, (1, reps, reps))[:, :resolution, :resolution]
    if resolution % side:
        raise KernelnormInputError(
            "--resolution", f"digits upsampling needs a multiple of {side}, got {resolution} "
            "(use --inputs-from digits-tiled)")
    factor = resolution // side
    return np.kron(images, np.ones((1, factor, factor)))


def _image_files(spec: str, n_inputs: int, resolution: int, rng) -> np.ndarray:
    """``n_inputs`` images of a user's ``mnist:DIR`` / ``cifar10:DIR`` / ``cifar100:DIR``,
    standardised per channel (over the drawn images) and average-pooled to ``R x R`` (``R``
    must divide the side: 28 -> 14, 7; 32 -> 16, 8)."""
    from kernelnorm.data import load_image_dataset

    dataset = load_image_dataset(spec)
    side, _, channels = dataset.image_shape
    if side % resolution:
        raise KernelnormInputError("--resolution", f"must divide the image side {side} of "
                                   f"{spec}, got {resolution}")
    pick = rng.choice(len(dataset.x), size=n_inputs, replace=n_inputs > len(dataset.x))
    images = np.asarray(dataset.x[pick], np.float64).reshape(n_inputs, side, side, channels)
    images = (images - images.mean(axis=(0, 1, 2))) / (images.std(axis=(0, 1, 2)) + 1e-12)
    factor = side // resolution
    return images.reshape(n_inputs, resolution, factor, resolution, factor, channels).mean(axis=(2, 4))


def make_inputs(source: str, n_inputs: int, resolution: int, *, seed: int = 0) -> np.ndarray:
    """Channel-last network inputs, each scaled to mean square 1 (``K0(x, x) = 1``).

    ``digits``: sklearn 8x8 digits, nearest-upsampled to ``R x R`` (one channel);
    ``digits-tiled``: the same images tiled periodically; ``mnist1d``: 1-D sequences resampled
    to length ``R``, shape ``(N, R, 1)``; ``gaussian``: i.i.d. ``N(0, 1)`` of shape
    ``(N, R, R, 3)``; ``mnist:DIR``, ``cifar10:DIR``, ``cifar100:DIR``: a user's image files,
    average-pooled to ``R x R`` (Proxy Norm's random nets read CIFAR-10 downsampled to 16 x 16).
    The ``n_inputs`` examples are drawn without replacement with ``seed``.
    """
    check_power_inputs(n_inputs, resolution, spatial=1 if source == "mnist1d" else 2)
    rng = np.random.default_rng(check_seed("--seed", seed))
    if ":" in source:
        x = _image_files(source, n_inputs, resolution, rng)
    elif source in ("digits", "digits-tiled"):
        from kernelnorm.data import load_digits

        pool = load_digits().x
        pick = rng.choice(len(pool), size=n_inputs, replace=n_inputs > len(pool))
        images = pool[pick].reshape(-1, 8, 8)
        x = _images_to(images, resolution, tile=source == "digits-tiled")[..., None]
    elif source == "mnist1d":
        from kernelnorm.data import load_mnist1d

        pool = load_mnist1d(seed=seed).x
        pick = rng.choice(len(pool), size=n_inputs, replace=n_inputs > len(pool))
        x = _resize_1d(pool[pick], resolution)[..., None]
    elif source == "gaussian":
        x = rng.standard_normal((n_inputs, resolution, resolution, 3))
    else:
        raise KernelnormInputError("--inputs-from", f"unknown source {source!r}; choose from "
                                   + ", ".join(SOURCES) + ", mnist:DIR, cifar10:DIR, cifar100:DIR")
    mean_square = (x * x).mean(axis=tuple(range(1, x.ndim)), keepdims=True)
    return x / np.sqrt(mean_square)
