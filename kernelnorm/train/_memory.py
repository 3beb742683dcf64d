"""Memory accounting: peak memory of one jitted training step from XLA's compiled memory analysis.

Only compilation is needed (no execution, no GPU): ``jax.jit(step).lower(...).compile()
.memory_analysis()`` reports the buffers XLA's buffer assignment allocates. The peak of a step is
``arguments + outputs + temporaries - aliased`` (parameters, optimiser state and the batch are
arguments; the updated ones are donated, so they alias the outputs). This is the analogue of the
memory column of MimicNorm Table 1 (PyTorch, GPU): the ratios, not the bytes, are comparable.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from kernelnorm.train._loop import make_train_step
from kernelnorm.train._optim import make_optimizer


def train_step_memory(network, *, batch: int = 128, dtype=jnp.float32, seed: int = 0) -> dict:
    """Bytes of one SGD-momentum training step of ``network`` on a batch of ``batch`` inputs.

    Returns ``{"peak", "temp", "argument", "output", "alias", "parameters"}`` in bytes, where
    ``peak = argument + output + temp - alias`` and ``parameters`` counts the trainable values.
    """
    key = jax.random.PRNGKey(seed)
    params, state = network.init(key, dtype=dtype)  # numpy draws, no compilation
    optimizer = make_optimizer(network, params, 0.1, momentum=0.9, weight_decay=5e-4)
    opt_state = jax.eval_shape(optimizer.init, params)
    step = make_train_step(network, optimizer, params)
    x = jax.ShapeDtypeStruct((batch, *network.input_shape), dtype)
    y = jax.ShapeDtypeStruct((batch,), jnp.int32)
    compiled = jax.jit(step, donate_argnums=(0, 1, 2)).lower(params, state, opt_state, x, y, key).compile()
    analysis = compiled.memory_analysis()
    out = {name: int(getattr(analysis, f"{name}_size_in_bytes"))
           for name in ("temp", "argument", "output", "alias")}
    out["peak"] = out["argument"] + out["output"] + out["temp"] - out["alias"]
    out["parameters"] = sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params))
    return out


def memory_table(model: str, norms, *, batch: int, n_classes: int, input_shape=(32, 32, 3),
                 width_factor: float = 1.0, depth: int = 3, width: int = 128,
                 activation: str = "relu", progress=None, **overrides) -> list[dict]:
    """One row per scheme (plus ``mimicnorm`` with the weight mean in the graph): peak and
    temporary MiB, parameter count, and the peak ratios to plain (NoNorm) and BN.

    ``norms`` are registry names (aliases accepted); ``depth``/``width`` shape the FCNN;
    ``overrides`` replace scheme fields for every scheme; ``progress`` wraps the loop over
    variants. Example::

        memory_table("resnet18", ["plain", "bn", "mimicnorm"], batch=128, n_classes=100)
    """
    from kernelnorm._registry import get_scheme
    from kernelnorm.nn import build_network

    names = [get_scheme(norm, argument="--norms").name for norm in norms]
    variants = [(name, name, {}) for name in names]
    if "mimicnorm" in names:
        variants.append(("mimicnorm[graph-wm]", "mimicnorm", {"weight_mean_mode": "graph"}))
    rows = []
    for label, norm, extra in (progress(variants) if progress else variants):
        network = build_network(model, norm, input_shape=input_shape, n_classes=n_classes,
                                width_factor=width_factor, depth=depth, width=width,
                                activation=activation, **{**overrides, **extra})
        m = train_step_memory(network, batch=batch)
        rows.append({"scheme": label, "peak_MiB": m["peak"] / 2**20, "temp_MiB": m["temp"] / 2**20,
                     "params": m["parameters"], "peak": m["peak"]})
    reference = {r["scheme"]: r["peak"] for r in rows}
    for row in rows:
        row["/plain"] = row["peak"] / reference["plain"] if "plain" in reference else None
        row["/bn"] = row["peak"] / reference["bn"] if "bn" in reference else None
    return rows
