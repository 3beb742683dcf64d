"""Networks with a ``norm=`` switch: FCNN, VGG-style CNNs, ResNets with basic blocks.

Every network is one ``forward(ctx, x)`` function (``_layers.py``); :class:`Network` turns it
into pure ``init``/``apply`` functions on pytrees (dicts of arrays) that ``jax.jit`` and optax
take directly. Inputs are NHWC images (FCNN: any shape, flattened).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from kernelnorm._errors import KernelnormInputError
from kernelnorm.nn import _layers as L
from kernelnorm._registry import Scheme, get_scheme

VGG_LAYOUTS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg-small": (32, "M", 64, "M", 128),
}
#: CIFAR ResNets (He et al. 2016, 6n+2 layers) and the ResNet-18-style CIFAR variant.
RESNET_LAYOUTS = {
    "resnet8": ((16, 32, 64), 1),  # the smallest 6n+2 member, for quick tests
    "resnet20": ((16, 32, 64), 3),
    "resnet56": ((16, 32, 64), 9),
    "resnet110": ((16, 32, 64), 18),
    "resnet18": ((64, 128, 256, 512), 2),
}
MODEL_NAMES = ("fcnn", *VGG_LAYOUTS, *RESNET_LAYOUTS)


@dataclass(frozen=True)
class Network:
    """A trainable network: ``init(key) -> (params, state)``,
    ``apply(params, state, x, *, train, key) -> (logits, new_state)``."""

    name: str
    scheme: Scheme
    input_shape: tuple[int, ...]
    n_classes: int
    forward: Callable = field(repr=False)
    activation: str = "relu"

    def _context(self, **kwargs) -> L.Context:
        return L.Context(self.scheme, activation=self.activation, **kwargs)

    def init(self, key, *, dtype=jnp.float32):
        """Parameters and BN running statistics, deterministic in ``key``.

        The forward pass runs abstractly (``jax.eval_shape``: shapes only, nothing compiled) and
        every parameter is drawn by numpy from a generator seeded with ``key``'s data and the
        parameter's position, so initialising a ResNet compiles nothing."""
        ctx = self._context(mode="init", key=np.asarray(jax.random.key_data(key)), dtype=np.dtype(dtype))
        jax.eval_shape(lambda: self.forward(ctx, jnp.zeros((2, *self.input_shape), dtype)))
        return jax.tree_util.tree_map(jnp.asarray, (ctx.params, ctx.state))

    def apply(self, params, state, x, *, train: bool, key=None):
        if key is None:
            key = jax.random.PRNGKey(0)
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        ctx = self._context(mode="apply", params=params, state=state, key=key, train=train, dtype=dtype)
        logits = self.forward(ctx, x.astype(dtype))
        return logits, {**state, **ctx.new_state}

    @functools.cached_property
    def layers(self) -> dict[str, L.LayerInfo]:
        """What every kernel is (found by an abstract init: no arrays are computed)."""
        ctx = self._context(mode="init", key=np.zeros(2, np.uint32), dtype=np.dtype(np.float32))
        jax.eval_shape(lambda: self.forward(ctx, jnp.zeros((2, *self.input_shape), jnp.float32)))
        return ctx.info

    def kernel_mask(self, params, predicate) -> dict:
        """Pytree of bools over ``params``: True on the kernel (``w`` or ``v``) of every layer
        whose :class:`LayerInfo` satisfies ``predicate``."""
        info = self.layers
        return {layer: {leaf: (leaf in ("w", "v") and layer in info and bool(predicate(info[layer])))
                        for leaf in leaves} for layer, leaves in params.items()}


def _fcnn(ctx, x, *, depth: int, width: int, n_classes: int):
    h = x.reshape(x.shape[0], -1)
    for i in range(depth):
        h = L.norm_act(ctx, f"dense{i}", L.dense(ctx, f"dense{i}", h, width, first=i == 0))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def _vgg(ctx, x, *, layout, n_classes: int, width_factor: float):
    h, i = x, 0
    for item in layout:
        if item == "M":
            h = L.max_pool(h) if h.shape[1] > 1 and h.shape[2] > 1 else h
            continue
        name = f"conv{i}"
        h = L.norm_act(ctx, name, L.conv(ctx, name, h, _channels(item, width_factor), first=i == 0))
        i += 1
    h = h.mean(axis=(1, 2))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def _channels(c: int, factor: float) -> int:
    return max(1, int(round(c * factor)))


def residual_scalar_init(kind: str | None, block: int, n_convs: int = 2) -> float | None:
    """Initial residual-branch scalar of block ``l`` (1-based).

    ``"paper"``: ``1/sqrt(l)`` (MimicNorm §4: the input of block ``l`` has accumulated variance
    ``l``); ``"code"``: ``1.2^k / l`` with ``k`` the weight-mean convolutions of the branch, as in
    the authors' code (docs/errata.md, erratum 4; ``1.2 ~ 1/sqrt(1-1/pi)``); ``"zero"``: SkipInit.
    Example: ``residual_scalar_init("paper", 4) == 0.5``.
    """
    if kind is None:
        return None
    if kind == "paper":
        return 1.0 / math.sqrt(block)
    if kind == "code":
        return 1.2**n_convs / block
    return 0.0


def _basic_block(ctx, name, x, out: int, stride: int, block: int):
    x = L.multiplicative_noise(ctx, x)
    alpha = L.residual_scalar(ctx, name + "/scalar", residual_scalar_init(ctx.scheme.residual_scalar, block))
    before_norm = ctx.scheme.normaliser is None
    h = L.norm_act(ctx, name + "/conv1", L.conv(ctx, name + "/conv1", x, out, 3, stride))
    h = L.conv(ctx, name + "/conv2", h, out, 3, 1, scale=alpha if before_norm else None)
    h = L.norm_act(ctx, name + "/conv2", h, activate=False)
    h = h if before_norm or alpha is None else alpha * h
    shortcut = x
    if stride != 1 or x.shape[-1] != out:
        shortcut = L.norm_act(ctx, name + "/shortcut", L.conv(ctx, name + "/shortcut", x, out, 1, stride),
                              activate=False)
    return ctx.activation.function(h + shortcut)


def _resnet(ctx, x, *, stages, blocks: int, n_classes: int, width_factor: float):
    h = L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, _channels(stages[0], width_factor), first=True))
    index = 0
    for s, channels in enumerate(stages):
        for b in range(blocks):
            index += 1
            stride = 2 if (s > 0 and b == 0 and h.shape[1] > 1) else 1
            h = _basic_block(ctx, f"stage{s}/block{b}", h, _channels(channels, width_factor), stride, index)
    h = h.mean(axis=(1, 2))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def build_network(model: str, norm: "str | Scheme" = "plain", *, input_shape=(32, 32, 3),
                  n_classes: int = 10, depth: int = 3, width: int = 128, width_factor: float = 1.0,
                  activation: str = "relu", **scheme_overrides) -> Network:
    """Network ``model`` (``fcnn``, ``vgg11``, ``vgg16``, ``vgg-small``, ``resnet8/20/56/110``, ``resnet18``)
    with normalisation scheme ``norm``.

    ``depth``/``width`` shape the FCNN; ``width_factor`` scales every channel count of the CNNs
    (1 = the published layouts). ``scheme_overrides`` replace scheme fields (e.g.
    ``residual_scalar="code"``, ``weight_mean_mode="graph"``, ``zmg=1.0``).
    """
    scheme = get_scheme(norm, **scheme_overrides)
    input_shape = tuple(int(d) for d in input_shape)
    if n_classes < 2:
        raise KernelnormInputError("--classes", f"need at least 2 classes, got {n_classes}")
    if model == "fcnn":
        if depth < 1 or width < 2:
            raise KernelnormInputError("--depth", f"fcnn needs depth >= 1 and width >= 2, got {depth}, {width}")
        forward = functools.partial(_fcnn, depth=depth, width=width, n_classes=n_classes)
    elif model in VGG_LAYOUTS or model in RESNET_LAYOUTS:
        if len(input_shape) != 3:
            raise KernelnormInputError("--model", f"{model} needs (H, W, C) images, got shape {input_shape}")
        if model in VGG_LAYOUTS:
            forward = functools.partial(_vgg, layout=VGG_LAYOUTS[model], n_classes=n_classes,
                                        width_factor=width_factor)
        else:
            stages, blocks = RESNET_LAYOUTS[model]
            forward = functools.partial(_resnet, stages=stages, blocks=blocks, n_classes=n_classes,
                                        width_factor=width_factor)
    else:
        raise KernelnormInputError("--model", f"unknown model {model!r} (use {', '.join(MODEL_NAMES)})")
    return Network(model, scheme, input_shape, n_classes, forward, activation)
