"""Many training runs of one network, compiled once: learning rate, CZMG factor and seed vary.

:func:`kernelnorm.train.train` compiles one step per call and fixes the scheme's hyper-parameters
at trace time. A sweep (a table of learning rates x zmg factors x seeds) of the same network
would recompile for each. Here the learning rate and the CZMG factor ``z`` are arguments of one
jitted function that runs a whole training run (``lax.scan`` over the steps), so every run of
the sweep reuses the same compiled code. Runs execute one after the other (``vmap`` over runs turns convolutions
into grouped convolutions, which are slow on CPU), or vmapped in 8 groups (``batched=True``, for
dense networks). With several devices, one run (or group) per device at a time: the numbers of
one device.

A run of the sweep is the run :func:`kernelnorm.train.train` makes for the same seed, learning
rate and schedule: the same initial parameters, the same minibatch order, the same per-step keys
and the same optimiser chain (:func:`kernelnorm.train.make_optimizer`, with CZMG
``grad_V' = grad_V - z mean_spatial(grad_V)`` in front when the run sets ``z``).
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm._sharding import device_count
from kernelnorm.train._loop import evaluate, make_train_step
from kernelnorm.train._optim import make_optimizer, zero_mean_gradient_transform
from kernelnorm.train._schedules import preset_schedule


def _czmg_factors(network, runs) -> list[float] | None:
    """Per-run CZMG factor ``z`` (a run's ``"zmg"``, else the scheme's); ``None`` when no run
    projects gradients. ``z = 0`` is no projection."""
    default = network.scheme.zmg
    factors = [run.get("zmg", default) for run in runs]
    if all(z is None for z in factors):
        return None
    if network.scheme.weights != "czm":
        raise KernelnormInputError("--zmg", f"CZMG needs zero-mean filters (czmig), not "
                                   f"{network.scheme.name}")
    for z in factors:
        if z is not None and not 0.0 <= z <= 1.0:
            raise KernelnormInputError("--zmg", f"must lie in [0, 1], got {z}")
    return [0.0 if z is None else float(z) for z in factors]


def _batch_order(seed: int, size: int, batch: int, epochs: int, steps: int) -> np.ndarray:
    """``(steps, batch)`` indices: the epoch permutations of :func:`kernelnorm.train.train`."""
    per_epoch = size // batch
    rows = [np.random.default_rng([seed, e]).permutation(size)[: per_epoch * batch].reshape(per_epoch, batch)
            for e in range(1, epochs + 1)]
    return np.concatenate(rows)[:steps]


def train_sweep(network, data, runs, *, epochs: int = 1, batch_size: int = 128,
                schedule: str = "constant", momentum: float = 0.9, weight_decay: float = 5e-4,
                steps: int | None = None, dtype: str = "float32", keep_params: bool = False,
                batched: bool = False, progress=None) -> list[dict]:
    """Train ``network`` once per entry of ``runs`` and evaluate it on the held-out split.

    Args:
        network: a :class:`kernelnorm.nn.Network`.
        data: ``(x, y, x_test, y_test)`` as from :func:`kernelnorm.train.images` (pass the
            training set as the held-out split to measure the training loss).
        runs: dicts with ``"lr"`` and optionally ``"seed"`` (default 0) and ``"zmg"`` (CZMG
            factor ``z`` in ``[0, 1]``; default the scheme's).
        epochs, batch_size, schedule: as :class:`kernelnorm.train.TrainConfig` (the schedule is
            a :data:`kernelnorm.train.PRESETS` name, rescaled to ``epochs``).
        steps: stop after this many steps (default ``epochs * (m // batch_size)``).
        keep_params: return the trained ``params`` and ``state`` of each run.
        batched: run the runs under ``jax.vmap``, in :data:`BATCH_GROUPS` groups (fast for dense
            networks; slow for convolutions on CPU) instead of one after the other.
        progress: optional callable, called with each finished record (with several devices,
            after each group of runs).

    Returns:
        One record per run: the run's keys, ``test_loss``, ``test_accuracy`` (NaN when the run
        diverged), ``train_loss`` (the mean minibatch loss of the last epoch, or of all steps
        when fewer), ``losses`` (per step), ``diverged``, ``diverged_step``, ``seconds`` (the
        run's wall time, training and evaluation; with several devices its share of its group's).

    With several devices (``jax.device_count() > 1``) the sequential sweep runs one run per
    device at a time, with the same numbers as on one device (:func:`_sweep_on_devices`).
    ``batched`` spreads its groups over the devices; a vmapped run's rounding depends on how
    many runs share the batch, so the groups are fixed by the number of runs, not of devices
    (:func:`_batched_groups`).
    """
    import jax
    import jax.numpy as jnp
    import optax

    x, y, x_test, y_test = data
    runs = [dict(r) for r in runs]
    if not runs:
        raise KernelnormInputError("--lr", "a sweep needs at least one run")
    for r in runs:
        if not (isinstance(r.get("lr"), (int, float)) and r["lr"] > 0 and math.isfinite(r["lr"])):
            raise KernelnormInputError("--lr", f"must be > 0, got {r.get('lr')!r}")
    batch = min(int(batch_size), len(x))
    per_epoch = len(x) // batch
    total = epochs * per_epoch if steps is None else int(steps)
    if total < 1 or total > epochs * per_epoch:
        raise KernelnormInputError("--steps", f"must lie in [1, {epochs * per_epoch}], got {total}")
    factors = _czmg_factors(network, runs)
    base = network if factors is None else dataclasses.replace(
        network, scheme=network.scheme.replace(zmg="none"))
    shape = preset_schedule(schedule, 1.0, per_epoch, epochs)
    dt = jnp.dtype(dtype)
    xs, ys = jnp.asarray(x, dt), jnp.asarray(y)

    def run(lr, z, params, state, order, keys):
        optimizer = make_optimizer(base, params, lambda count: lr * shape(count), momentum=momentum,
                                   weight_decay=weight_decay)
        if factors is not None:
            mask = network.kernel_mask(params, lambda info: info.czm_filter)
            optimizer = optax.chain(zero_mean_gradient_transform(mask, z), optimizer)
        step = make_train_step(network, optimizer, params)

        def body(carry, inputs):
            index, key = inputs
            p, st, opt = carry
            p, st, opt, loss, _ = step(p, st, opt, xs[index], ys[index], key)
            return (p, st, opt), loss

        (params, state, _), losses = jax.lax.scan(body, (params, state, optimizer.init(params)),
                                                  (order, keys))
        return params, state, losses

    def inputs(i, r):
        seed = int(r.get("seed", 0))
        root = jax.random.PRNGKey(seed)
        params, state = network.init(jax.random.fold_in(root, 0), dtype=dt)
        order = jnp.asarray(_batch_order(seed, len(x), batch, epochs, total))
        keys = jax.vmap(lambda t: jax.random.fold_in(jax.random.fold_in(root, 1), t))(jnp.arange(1, total + 1))
        z = 0.0 if factors is None else factors[i]
        return jnp.asarray(r["lr"], dt), jnp.asarray(z, dt), params, state, order, keys

    def finish(i, r, params, state, losses, started):
        losses = np.asarray(losses, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(losses))
        record = {**r, "zmg": None if factors is None else factors[i], "losses": losses,
                  "train_loss": float(losses[-min(per_epoch, total):].mean()),
                  "diverged": bool(bad.size), "diverged_step": int(bad[0]) + 1 if bad.size else None}
        test = evaluate(network, params, state, x_test, y_test) if not bad.size else \
            {"loss": float("nan"), "accuracy": float("nan")}
        if not math.isfinite(test["loss"]):
            record["diverged"] = True
        record.update(test_loss=test["loss"], test_accuracy=test["accuracy"],
                      seconds=time.perf_counter() - started)
        if keep_params:
            record.update(params=params, state=state)
        if progress:
            progress(record)
        return record

    if batched:
        return _batched_groups(runs, run, inputs, finish)
    devices = device_count()
    if devices > 1:
        return _sweep_on_devices(runs, devices, run, inputs, finish)
    compiled = jax.jit(run)
    records = []
    for i, r in enumerate(runs):
        started = time.perf_counter()
        params, state, losses = compiled(*inputs(i, r))
        records.append(finish(i, r, params, state, losses, started))
    return records


def _sweep_on_devices(runs, devices, run, inputs, finish) -> list[dict]:
    """The sequential sweep with ``devices > 1``: ``devices`` runs at a time, one per device
    (:func:`kernelnorm._sharding.device_mapped`: each device runs the one-run program, so every run
    has the numbers of the one-device sweep), the last group padded by repeating its last run. A
    record's ``seconds`` is its group's wall time (inputs, training) divided by the group's runs,
    plus its own evaluation: the records' seconds still add up to the sweep's wall time."""
    import jax
    import jax.numpy as jnp

    from kernelnorm._sharding import device_mapped, pad_to_devices

    mapped = device_mapped(lambda item: run(*item))

    def pick(tree, k):
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a[k]), tree)

    records = []
    for start in range(0, len(runs), devices):
        group = list(enumerate(runs))[start:start + devices]
        started = time.perf_counter()
        stacked = jax.tree_util.tree_map(lambda *a: np.stack(a), *[inputs(i, r) for i, r in group])
        params, state, losses = mapped(pad_to_devices(stacked, len(group)))
        share = (time.perf_counter() - started) / len(group)
        for k, (i, r) in enumerate(group):
            records.append(finish(i, r, pick(params, k), pick(state, k), losses[k],
                                  time.perf_counter() - share))
    return records


#: ``batched`` sweeps vmap this many groups of runs; the groups, not the devices, fix the numbers.
BATCH_GROUPS = 8


def _batched_groups(runs, run, inputs, finish) -> list[dict]:
    """The batched sweep: the runs cut into :data:`BATCH_GROUPS` groups of ``ceil(n / 8)``
    (the last padded by repeating its last run), each group one ``vmap`` of the run, the groups
    spread over the devices (:func:`kernelnorm._sharding.device_mapped`). A vmapped product's
    rounding depends on how many runs share it, so the group size depends on the number of runs
    only: the same numbers on any number of devices. ``seconds``: from the sweep's start."""
    import jax

    from kernelnorm._sharding import device_mapped, pad_to_devices

    started = time.perf_counter()
    size = -(-len(runs) // BATCH_GROUPS)
    groups = -(-len(runs) // size)
    order = np.minimum(np.arange(groups * size), len(runs) - 1)
    items = [inputs(i, runs[i]) for i in range(len(runs))]
    stacked = jax.tree_util.tree_map(
        lambda *a: np.stack(a)[order].reshape((groups, size) + np.shape(a[0])), *items)
    mapped = device_mapped(lambda group: jax.vmap(run)(*group))
    outputs = mapped(pad_to_devices(stacked, groups))

    def pick(tree, i):
        return jax.tree_util.tree_map(lambda a: jax.numpy.asarray(a[i // size, i % size]), tree)

    params, state, losses = outputs
    return [finish(i, r, pick(params, i), pick(state, i), np.asarray(losses[i // size, i % size]),
                   started) for i, r in enumerate(runs)]
