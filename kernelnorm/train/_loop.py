"""Training loop: jitted SGD steps, deterministic seeds, per-epoch evaluation and JSON-lines
metrics. A run whose loss turns NaN/inf is stopped and recorded as diverged at step ``k``."""

from __future__ import annotations

import functools
import math
import sys
import time
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax

from kernelnorm._errors import KernelnormInputError, check_seed, check_training_data
from kernelnorm.train._metrics import append_jsonl
from kernelnorm.train._optim import luma_loss, make_optimizer
from kernelnorm.train._schedules import preset_schedule


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run (defaults: short runs on small data)."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.1
    schedule: str = "mimicnorm-cifar"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    crop_padding: int = 0
    flip: bool = False
    rotation: float = 0.0
    milestones: tuple[float, ...] | None = None
    warmup_epochs: float | None = None
    scalar_lr_factor: float = 1.0
    dtype: str = "float32"

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise KernelnormInputError(f"--{name.replace('_', '-')}", f"must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise KernelnormInputError("--lr", f"must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise KernelnormInputError("--momentum", f"must lie in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise KernelnormInputError("--weight-decay", f"must be >= 0, got {self.weight_decay}")
        if not 0 <= self.rotation <= 180:
            raise KernelnormInputError("--rotate", f"must lie in [0, 180] degrees, got {self.rotation}")
        if not (self.scalar_lr_factor > 0 and math.isfinite(self.scalar_lr_factor)):
            raise KernelnormInputError("--scalar-lr-factor", f"must be > 0, got {self.scalar_lr_factor}")
        check_seed("--seed", self.seed)


@dataclass
class TrainResult:
    history: list[dict]
    params: dict
    state: dict
    diverged: bool = False
    diverged_step: int | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def images(dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/test arrays shaped ``(m, H, W, C)`` (1-D signals ``(L, C)`` become ``(1, L, C)``),
    standardised per channel with the training set's mean and standard deviation."""
    shape = dataset.image_shape or (dataset.x.shape[1], 1)
    shape = tuple(shape) if len(shape) == 3 else (1, *shape)
    x, x_test = (np.asarray(a, np.result_type(np.asarray(a).dtype, np.float32)).reshape(len(a), *shape) for a in (dataset.x, dataset.x_test))
    if x.shape[0] == 0 or np.any(np.asarray(dataset.y) < 0):
        raise KernelnormInputError("--data", f"{dataset.name} has no class labels to train on")
    mean = x.mean(axis=(0, 1, 2))
    std = x.std(axis=(0, 1, 2))
    std = np.where(std > 0, std, 1.0)
    return (x - mean) / std, np.asarray(dataset.y), (x_test - mean) / std, np.asarray(dataset.y_test)


def augment(key, x, *, padding: int, flip: bool, rotation: float = 0.0):
    """Random crop after zero padding by ``padding``, random horizontal flip, then a random
    rotation by an angle uniform in ``[-rotation, rotation]`` degrees (NHWC; the order and the
    nearest-neighbour rotation of the MimicNorm authors' ``RandomCrop, RandomHorizontalFlip,
    RandomRotation(15)``; uncovered corners are 0, the training mean after standardisation)."""
    n, h, w, _ = x.shape
    key_crop, key_flip, key_rotate = jax.random.split(key, 3)
    if padding > 0:
        padded = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
        offsets = jax.random.randint(key_crop, (n, 2), 0, 2 * padding + 1)
        crop = lambda image, o: jax.lax.dynamic_slice(image, (o[0], o[1], 0), (h, w, x.shape[-1]))  # noqa: E731
        x = jax.vmap(crop)(padded, offsets)
    if flip:
        mirror = jax.random.bernoulli(key_flip, 0.5, (n, 1, 1, 1))
        x = jnp.where(mirror, x[:, :, ::-1], x)
    if rotation > 0:
        angles = jax.random.uniform(key_rotate, (n,), x.dtype, -rotation, rotation)
        x = jax.vmap(rotate)(x, angles)
    return x


def rotate(image, degrees):
    """``image`` (H, W, C) rotated by ``degrees`` about its centre, nearest neighbour, zero fill:
    output pixel ``p`` reads input pixel ``R(-degrees)(p - c) + c``."""
    from jax.scipy.ndimage import map_coordinates

    h, w, _ = image.shape
    theta = jnp.deg2rad(degrees)
    rows, cols = jnp.meshgrid(jnp.arange(h, dtype=image.dtype), jnp.arange(w, dtype=image.dtype),
                              indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy, dx = rows - cy, cols - cx
    src_r = jnp.cos(theta) * dy - jnp.sin(theta) * dx + cy
    src_c = jnp.sin(theta) * dy + jnp.cos(theta) * dx + cx
    channel = lambda c: map_coordinates(c, [src_r, src_c], order=0, mode="constant", cval=0.0)  # noqa: E731
    return jax.vmap(channel, in_axes=-1, out_axes=-1)(image)


def make_train_step(network, optimizer, params, *, crop_padding: int = 0, flip: bool = False,
                    rotation: float = 0.0):
    """``step(params, state, opt_state, x, y, key) -> (params, state, opt_state, loss, accuracy)``
    (not jitted; ``loss`` is the cross-entropy, without the LUMA term)."""
    scheme = network.scheme
    luma_mask = network.kernel_mask(params, lambda i: i.reparam) if scheme.luma is not None else None

    def loss_fn(p, state, x, y, key):
        logits, new_state = network.apply(p, state, x, train=True, key=key)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        total = ce + luma_loss(p, luma_mask, scheme.luma) if luma_mask is not None else ce
        return total, (new_state, ce, (logits.argmax(-1) == y).mean())

    def step(p, state, opt_state, x, y, key):
        key_aug, key_net = jax.random.split(key)
        if crop_padding or flip or rotation:
            x = augment(key_aug, x, padding=crop_padding, flip=flip, rotation=rotation)
        grads, (state, ce, acc) = jax.grad(loss_fn, has_aux=True)(p, state, x, y, key_net)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), state, opt_state, ce, acc

    return step


def evaluate(network, params, state, x, y, *, batch_size: int = 512) -> dict:
    """Mean cross-entropy and accuracy in evaluation mode (BN: running statistics)."""
    if len(x) == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    forward = _eval_forward(network)
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = jnp.asarray(x[start:start + batch_size]), jnp.asarray(y[start:start + batch_size])
        loss, hits = forward(params, state, xb, yb)
        total_loss, correct = total_loss + float(loss), correct + int(hits)
    return {"loss": total_loss / len(x), "accuracy": correct / len(x)}


@functools.lru_cache(maxsize=16)
def _eval_forward(network):
    """One jitted evaluation function per network (compiled once, reused every epoch)."""
    @jax.jit
    def forward(params, state, x, y):
        logits, _ = network.apply(params, state, x, train=False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
        return ce, (logits.argmax(-1) == y).sum()

    return forward


def train(network, data, config: TrainConfig = TrainConfig(), *, metrics_path: str | None = None,
          progress: bool | None = None, run_info: dict | None = None,
          on_step=None) -> TrainResult:
    """Train ``network`` on ``data = (x, y, x_test, y_test)`` (see :func:`images`).

    Each epoch appends ``{"epoch", "step", "lr", "train_loss", "train_accuracy", "test_loss",
    "test_accuracy", "seconds", **run_info}`` to ``metrics_path``. A non-finite loss at global step
    ``k`` (1-based) ends the run with a record ``{"diverged": true, "diverged_step": k}``.
    ``on_step(k, state, loss)``, if given, is called after every step with the network state
    (e.g. BN running statistics; its buffers are reused by the next step, so copy what you keep)
    and the step's cross-entropy, also on the step that diverges.
    """
    from tqdm.auto import tqdm

    x, y, x_test, y_test = data
    check_training_data(network, x, y, x_test, y_test)
    dtype = jnp.dtype(config.dtype)
    root = jax.random.PRNGKey(config.seed)
    params, state = network.init(jax.random.fold_in(root, 0), dtype=dtype)
    batch = min(config.batch_size, len(x))
    steps_per_epoch = len(x) // batch
    schedule = preset_schedule(config.schedule, config.lr, steps_per_epoch, config.epochs,
                               milestones=config.milestones, warmup_epochs=config.warmup_epochs)
    optimizer = make_optimizer(network, params, schedule, momentum=config.momentum,
                               weight_decay=config.weight_decay,
                               scalar_lr_factor=config.scalar_lr_factor)
    opt_state = optimizer.init(params)
    step = jax.jit(make_train_step(network, optimizer, params, crop_padding=config.crop_padding,
                                   flip=config.flip, rotation=config.rotation),
                   donate_argnums=(0, 1, 2))
    info = dict(run_info or {})
    result = TrainResult([], params, state)
    started = time.perf_counter()
    bar = tqdm(total=config.epochs * steps_per_epoch, desc=f"{network.name}/{network.scheme.name}",
               file=sys.stderr, leave=False,
               disable=(not sys.stderr.isatty()) if progress is None else not progress)
    global_step = 0
    with bar:
        for epoch in range(1, config.epochs + 1):
            order = np.random.default_rng([config.seed, epoch]).permutation(len(x))
            losses, accs = [], []
            for i in range(steps_per_epoch):
                index = order[i * batch:(i + 1) * batch]
                global_step += 1
                params, state, opt_state, loss, acc = step(
                    params, state, opt_state, jnp.asarray(x[index], dtype), jnp.asarray(y[index]),
                    jax.random.fold_in(jax.random.fold_in(root, 1), global_step))
                loss = float(loss)
                if on_step is not None:
                    on_step(global_step, state, loss)
                if not math.isfinite(loss):
                    return _diverged(result, params, state, global_step, epoch, loss, info,
                                     metrics_path, started)
                losses.append(loss)
                accs.append(float(acc))
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            record = {**info, "epoch": epoch, "step": global_step,
                      "lr": float(schedule(global_step - 1)), "train_loss": float(np.mean(losses)),
                      "train_accuracy": float(np.mean(accs)), "seconds": time.perf_counter() - started}
            if len(x_test):  # no held-out split: no test metrics (never a NaN placeholder)
                test = evaluate(network, params, state, x_test, y_test)
                record.update(test_loss=test["loss"], test_accuracy=test["accuracy"])
            if len(x_test) and not math.isfinite(record["test_loss"]):
                return _diverged(result, params, state, global_step, epoch, record["test_loss"],
                                 info, metrics_path, started)
            result.history.append(record)
            if metrics_path:
                append_jsonl(metrics_path, record)
    result.params, result.state, result.seconds = params, state, time.perf_counter() - started
    return result


def _diverged(result, params, state, k, epoch, loss, info, metrics_path, started) -> TrainResult:
    record = {**info, "epoch": epoch, "diverged": True, "diverged_step": k, "loss": loss,
              "seconds": time.perf_counter() - started}
    result.history.append(record)
    if metrics_path:
        append_jsonl(metrics_path, record)
    result.params, result.state = params, state
    result.diverged, result.diverged_step = True, k
    result.seconds = record["seconds"]
    return result
