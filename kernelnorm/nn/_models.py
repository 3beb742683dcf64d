"""Networks with a ``norm=`` switch: FCNN, VGG, ResNets (v1 basic/bottleneck, v2
pre-activation), SqueezeNet, ShuffleNetV2.

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
from kernelnorm._registry import Scheme, get_scheme
from kernelnorm.nn import _layers as L
from kernelnorm.nn import _lightweight, _resnets
from kernelnorm.nn._resnets import RESNETS, residual_scalar_init  # noqa: F401 (re-exported)

VGG_LAYOUTS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg-small": (32, "M", 64, "M", 128),
}
#: Basic-block ResNets as ``(stage channels, blocks per stage)``: the CIFAR ResNets (He et al.
#: 2016, 6n+2 layers) and ResNet-18. Every residual network, bottleneck and pre-activation ones
#: included, is in :data:`kernelnorm.nn.RESNETS`.
RESNET_LAYOUTS = {name: (layout.stages, layout.blocks[0]) for name, layout in RESNETS.items()
                  if not (layout.bottleneck or layout.preact) and len(set(layout.blocks)) == 1}
#: ShuffleNetV2 names and width multipliers (``shufflenetv2`` is 1.0x, MimicNorm Table 1).
SHUFFLENETS = {"shufflenetv2": 1.0, "shufflenetv2-x0.5": 0.5, "shufflenetv2-x1.5": 1.5,
               "shufflenetv2-x2.0": 2.0}
MODEL_NAMES = ("fcnn", *VGG_LAYOUTS, *RESNETS, "squeezenet", *SHUFFLENETS)
VGG_HEADS = ("linear", "authors")
STEMS = ("auto", "cifar", "imagenet")
#: ``stem="auto"`` picks the ImageNet stem from this input side on (224 px ImageNet rows).
IMAGENET_STEM_MIN_SIDE = 128


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
    def _abstract(self) -> L.Context:
        ctx = self._context(mode="shapes", key=np.zeros(2, np.uint32), dtype=np.dtype(np.float32))
        jax.eval_shape(lambda: self.forward(ctx, jnp.zeros((2, *self.input_shape), jnp.float32)))
        return ctx

    @property
    def layers(self) -> dict[str, L.LayerInfo]:
        """What every kernel is (found by an abstract init: nothing is drawn or computed)."""
        return self._abstract.info

    @property
    def parameter_shapes(self) -> dict:
        """The parameter pytree as ``jax.ShapeDtypeStruct`` leaves (float32; abstract init)."""
        return self._abstract.params

    @property
    def state_shapes(self) -> dict:
        """The state pytree (BN running statistics) as ``jax.ShapeDtypeStruct`` leaves."""
        return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype),
                                      self._abstract.state)

    @property
    def parameter_count(self) -> int:
        """Number of trainable values (BN running statistics are state, not counted)."""
        return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(self.parameter_shapes))

    def kernel_mask(self, params, predicate) -> dict:
        """Pytree of bools over ``params``: True on the kernel (``w`` or ``v``) of every layer
        whose :class:`LayerInfo` satisfies ``predicate``."""
        info = self.layers
        return {layer: {leaf: (leaf in ("w", "v") and layer in info and bool(predicate(info[layer])))
                        for leaf in leaves} for layer, leaves in params.items()}


def _fcnn(ctx, x, *, depth: int, width: int, n_classes: int, **_):
    h = x.reshape(x.shape[0], -1)
    for i in range(depth):
        h = L.norm_act(ctx, f"dense{i}", L.dense(ctx, f"dense{i}", h, width, first=i == 0))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def _vgg(ctx, x, *, layout, n_classes: int, width_factor: float, head: str = "linear",
         dropout: float = 0.5, **_):
    """3x3 convolutions with max-pools while the map is larger than 1x1. Head ``"linear"``:
    global average pool + one linear classifier; ``"authors"``: the MimicNorm authors' (and
    Simonyan & Zisserman's) head, flatten + two 4096-unit dense layers with ReLU and dropout
    + classifier, never normalised (their BN models normalise the convolutions only)."""
    h, i = x, 0
    for item in layout:
        if item == "M":
            h = L.max_pool(h) if h.shape[1] > 1 and h.shape[2] > 1 else h
            continue
        name = f"conv{i}"
        h = L.norm_act(ctx, name, L.conv(ctx, name, h, channels(item, width_factor), first=i == 0))
        i += 1
    if head == "linear":
        h = h.mean(axis=(1, 2))
    else:
        h = h.reshape(h.shape[0], -1)
        for j in range(2):
            name = f"fc{j}"
            h = L.dense(ctx, name, h, channels(4096, width_factor), normalised=False)
            h = ctx.activation.function(h)
            h = L.dropout(ctx, h, dropout)
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))


def channels(c: int, factor: float) -> int:
    """Channel count ``c`` scaled by ``factor`` (at least 1)."""
    return max(1, int(round(c * factor)))


def build_network(model: str, norm: "str | Scheme" = "plain", *, input_shape=(32, 32, 3),
                  n_classes: int = 10, depth: int = 3, width: int = 128, width_factor: float = 1.0,
                  activation: str = "relu", stem: str = "auto", vgg_head: str = "linear",
                  dropout: float = 0.5, shortcut_scalar: float | None = None,
                  **scheme_overrides) -> Network:
    """Network ``model`` (:data:`MODEL_NAMES`) with normalisation scheme ``norm``.

    Args:
        depth, width: shape of the FCNN.
        width_factor: scales every CNN channel count (1 = the published layouts).
        stem: ``"cifar"`` (3x3 stride-1 stem, no pooling: the MimicNorm authors' CIFAR
            models), ``"imagenet"`` (7x7/2 + max-pool; ShuffleNetV2 3x3/2 + max-pool) or
            ``"auto"`` (ImageNet from a 128 px input side on).
        vgg_head: ``"linear"`` (global average pool + linear classifier) or ``"authors"``
            (two 4096-unit dense layers with ``dropout``, MimicNorm authors' code).
        shortcut_scalar: initial value of a trainable scalar on every projection shortcut
            (ResNets, ShuffleNetV2's down-sampling branch); the authors' ImageNet ResNets and
            CIFAR ShuffleNetV2: 1.2; ``None``: none.
        scheme_overrides: replace scheme fields (e.g. ``residual_scalar="code"``,
            ``weight_mean_mode="graph"``, ``zmg=1.0``, ``proxy_extra=True``).
    """
    scheme = get_scheme(norm, **scheme_overrides)
    input_shape = tuple(int(d) for d in input_shape)
    if n_classes < 2:
        raise KernelnormInputError("--classes", f"need at least 2 classes, got {n_classes}")
    _check_model_options(stem, vgg_head, dropout, shortcut_scalar)
    options = dict(n_classes=n_classes, width_factor=width_factor)
    if model == "fcnn":
        if depth < 1 or width < 2:
            raise KernelnormInputError("--depth", f"fcnn needs depth >= 1 and width >= 2, got {depth}, {width}")
        forward = functools.partial(_fcnn, depth=depth, width=width, **options)
    elif model in MODEL_NAMES:
        if len(input_shape) != 3:
            raise KernelnormInputError("--model", f"{model} needs (H, W, C) images, got shape {input_shape}")
        if stem == "auto":
            stem = "imagenet" if min(input_shape[:2]) >= IMAGENET_STEM_MIN_SIDE else "cifar"
        options.update(imagenet_stem=stem == "imagenet", shortcut_scalar=shortcut_scalar)
        forward = _conv_forward(model, vgg_head=vgg_head, dropout=dropout, **options)
    else:
        raise KernelnormInputError("--model", f"unknown model {model!r} (use {', '.join(MODEL_NAMES)})")
    return Network(model, scheme, input_shape, n_classes, forward, activation)


def _conv_forward(model: str, *, vgg_head: str, dropout: float, **options):
    if model in VGG_LAYOUTS:
        return functools.partial(_vgg, layout=VGG_LAYOUTS[model], head=vgg_head, dropout=dropout,
                                 n_classes=options["n_classes"],
                                 width_factor=options["width_factor"])
    if model in RESNETS:
        return functools.partial(_resnets.resnet, layout=RESNETS[model], **options)
    if model == "squeezenet":
        return functools.partial(_lightweight.squeezenet, **options)
    return functools.partial(_lightweight.shufflenetv2, ratio=SHUFFLENETS[model], **options)


def _check_model_options(stem, vgg_head, dropout, shortcut_scalar) -> None:
    if stem not in STEMS:
        raise KernelnormInputError("--stem", f"unknown stem {stem!r} (use {', '.join(STEMS)})")
    if vgg_head not in VGG_HEADS:
        raise KernelnormInputError("--vgg-head", f"unknown head {vgg_head!r} (use {', '.join(VGG_HEADS)})")
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise KernelnormInputError("--dropout", f"must lie in [0, 1), got {dropout!r}")
    if shortcut_scalar is not None and not (isinstance(shortcut_scalar, (int, float))
                                            and math.isfinite(shortcut_scalar)):
        raise KernelnormInputError("--shortcut-scalar", f"must be a finite number, got {shortcut_scalar!r}")
