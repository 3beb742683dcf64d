"""Memory accounting: peak memory of one jitted training step from XLA's compiled memory analysis.

Only compilation is needed (no execution, no GPU): ``jax.jit(step).lower(...).compile()
.memory_analysis()`` reports the buffers XLA's buffer assignment allocates. The peak of a step is
``arguments + outputs + temporaries - aliased`` (parameters, optimiser state and the batch are
arguments; the updated ones are donated, so they alias the outputs). This is the analogue of the
memory column of MimicNorm Table 1 (PyTorch, GPU): the ratios, not the bytes, are comparable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    as_dtype = lambda leaf: jax.ShapeDtypeStruct(leaf.shape, dtype)  # noqa: E731
    params = jax.tree_util.tree_map(as_dtype, network.parameter_shapes)  # nothing drawn
    state = jax.tree_util.tree_map(as_dtype, network.state_shapes)
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


@dataclass(frozen=True)
class PaperMemory:
    """One model of MimicNorm's memory columns: GPU memory in MB per method (PyTorch 1.5,
    ``nvidia-smi``), the batch and input side it was measured at, and the table."""

    batch: int
    side: int
    n_classes: int
    megabytes: dict
    source: str

    def ratio(self, scheme: str, reference: str = "bn") -> float | None:
        mb = self.megabytes
        return mb[scheme] / mb[reference] if scheme in mb and reference in mb else None


_T1 = "MimicNorm Table 1 (CIFAR-100, 2080 Ti)"
_T3 = "MimicNorm Table 3 (ImageNet, V100)"
#: MimicNorm's memory columns by ``(model, input side)``; keys are registry names (NoNorm =
#: ``plain``). Table 1: batch 256, ResNet-50 128 ("we halve the batchsize"); Table 3: batch 256
#: (VGG16 and ResNet-101 on two GPUs). ShuffleNetV2 of Table 3 is the 0.5x model.
PAPER_MEMORY = {
    ("vgg11", 32): PaperMemory(256, 32, 100, {"bn": 2971, "mimicnorm": 2851, "plain": 2831}, _T1),
    ("vgg16", 32): PaperMemory(256, 32, 100, {"bn": 3745, "mimicnorm": 3489, "plain": 3469}, _T1),
    ("resnet18", 32): PaperMemory(256, 32, 100, {"bn": 4447, "fixup": 4743, "mimicnorm": 4157}, _T1),
    ("resnet50", 32): PaperMemory(128, 32, 100, {"bn": 8533, "fixup": 10283, "mimicnorm": 7533}, _T1),
    ("squeezenet", 32): PaperMemory(256, 32, 100, {"bn": 3687, "mimicnorm": 2693}, _T1),
    ("shufflenetv2", 32): PaperMemory(256, 32, 100, {"bn": 3915, "mimicnorm": 3141}, _T1),
    ("vgg16", 224): PaperMemory(256, 224, 1000, {"bn": 62162, "mimicnorm": 56410, "plain": 56388}, _T3),
    ("resnet18", 224): PaperMemory(256, 224, 1000, {"bn": 8057, "mimicnorm": 5603}, _T3),
    ("resnet50", 224): PaperMemory(256, 224, 1000, {"bn": 27083, "fixup": 29267, "mimicnorm": 22489}, _T3),
    ("resnet101", 224): PaperMemory(256, 224, 1000, {"bn": 37168, "mimicnorm": 30363}, _T3),
    ("shufflenetv2-x0.5", 224): PaperMemory(256, 224, 1000, {"bn": 4385, "mimicnorm": 3603}, _T3),
}


def paper_memory(model: str, side: int) -> PaperMemory | None:
    """MimicNorm's memory row for ``model`` at input side ``side``, or ``None``."""
    return PAPER_MEMORY.get((model, int(side)))


#: Model options that fix the architecture every row of a memory table shares; a recipe's other
#: settings (scheme fields, the shortcut scalar) belong to the recipe's own scheme.
SHARED_MODEL_OPTIONS = ("stem", "vgg_head", "dropout")


def memory_settings(preset: str | None, model: str | None = None, *, scheme: dict | None = None,
                    model_options: dict | None = None) -> tuple[str, dict, dict]:
    """``(model, shared, per_scheme)`` for :func:`memory_table` under recipe ``preset``:
    explicit ``scheme``/``model_options`` (``None`` values = not given) and the recipe's
    architecture options (:data:`SHARED_MODEL_OPTIONS`) apply to every row, the recipe's
    whole settings to its own scheme (e.g. MimicNorm's rule and scalars, not BN's), so that
    every row is the same architecture: the paper's BN row is the authors' BN model."""
    from kernelnorm._registry import get_scheme, resolve_run

    run = resolve_run(preset, model=model, scheme=scheme, model_options=model_options)
    explicit = resolve_run(None, model=run["model"], scheme=scheme, model_options=model_options)
    shared = {**explicit["scheme"], **explicit["model_options"],
              **{k: v for k, v in run["model_options"].items() if k in SHARED_MODEL_OPTIONS}}
    per_scheme = {get_scheme(run["norm"]).name: {**run["scheme"], **run["model_options"]}} \
        if preset else {}
    return run["model"], shared, per_scheme


def memory_table(model: str, norms, *, batch: int, n_classes: int, input_shape=(32, 32, 3),
                 width_factor: float = 1.0, depth: int = 3, width: int = 128,
                 activation: str = "relu", progress=None, per_scheme: dict | None = None,
                 **overrides) -> list[dict]:
    """One row per scheme (plus ``mimicnorm`` with the weight mean in the graph): peak and
    temporary MiB, parameter count, and the peak ratios to plain (NoNorm) and BN.

    ``norms`` are registry names (aliases accepted); ``depth``/``width`` shape the FCNN;
    ``overrides`` (scheme fields and :func:`kernelnorm.nn.build_network` model options) apply
    to every scheme, ``per_scheme[name]`` to scheme ``name`` only (a recipe's scheme
    settings); ``progress`` wraps the loop over variants. Example::

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
        own = (per_scheme or {}).get(norm, {})
        network = build_network(model, norm, input_shape=input_shape, n_classes=n_classes,
                                width_factor=width_factor, depth=depth, width=width,
                                activation=activation, **{**overrides, **own, **extra})
        m = train_step_memory(network, batch=batch)
        rows.append({"scheme": label, "peak_MiB": m["peak"] / 2**20, "temp_MiB": m["temp"] / 2**20,
                     "params": m["parameters"], "peak": m["peak"]})
    reference = {r["scheme"]: r["peak"] for r in rows}
    for row in rows:
        row["/plain"] = row["peak"] / reference["plain"] if "plain" in reference else None
        row["/bn"] = row["peak"] / reference["bn"] if "bn" in reference else None
    return rows
