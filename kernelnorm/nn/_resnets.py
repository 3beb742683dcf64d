"""Residual networks: He et al. (2016) v1 with basic or bottleneck blocks, and pre-activation
(v2, He et al. 2016b) ResNets, at CIFAR or ImageNet stems, for every registered scheme.

Scheme-dependent parts of a residual unit (all read from ``ctx.scheme``):

* the branch scalar ``alpha``: MimicNorm's ``1/sqrt(l)`` / the authors' ``1.2^k/l``, SkipInit's
  0 (:func:`residual_scalar_init`), or Fixup's multiplier 1;
* Fixup (Zhang, Dauphin, Ma 2019, §3): the branch's last convolution starts at 0, its other
  convolutions at the standard init times ``L^(-1/(2m-2))`` (``L`` branches of ``m`` layers),
  scalar biases before every convolution and activation (:func:`_layers.fixup_shift`);
* multiplicative noise at the unit's input (Mean Shift Rejection §4.4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernelnorm.nn import _layers as L


@dataclass(frozen=True)
class ResNetLayout:
    """``stages`` channel counts (bottleneck: before the x4 expansion), ``blocks`` per stage,
    block kind, pre-activation (v2) or not."""

    stages: tuple[int, ...]
    blocks: tuple[int, ...]
    bottleneck: bool = False
    preact: bool = False

    @property
    def n_branches(self) -> int:
        return sum(self.blocks)

    @property
    def branch_depth(self) -> int:
        """``m``, the weight layers of one residual branch."""
        return 3 if self.bottleneck else 2


def _six_n_plus_two(n: int, preact: bool = False) -> ResNetLayout:
    return ResNetLayout((16, 32, 64), (n, n, n), preact=preact)


#: Every residual network by name. ``resnetN`` with N = 6n+2: the CIFAR ResNets of He et al.
#: (16/32/64 channels); ``resnet18/34/50/101``: the ImageNet layouts (64..512 channels; 50 and
#: 101 with bottleneck blocks); ``preresnet*``: the same with pre-activation units.
RESNETS: dict[str, ResNetLayout] = {
    **{f"resnet{6 * n + 2}": _six_n_plus_two(n) for n in (1, 3, 5, 7, 9, 18)},
    "resnet18": ResNetLayout((64, 128, 256, 512), (2, 2, 2, 2)),
    "resnet34": ResNetLayout((64, 128, 256, 512), (3, 4, 6, 3)),
    "resnet50": ResNetLayout((64, 128, 256, 512), (3, 4, 6, 3), bottleneck=True),
    "resnet101": ResNetLayout((64, 128, 256, 512), (3, 4, 23, 3), bottleneck=True),
    **{f"preresnet{6 * n + 2}": _six_n_plus_two(n, preact=True) for n in (1, 3, 5, 7, 9, 18)},
    "preresnet18": ResNetLayout((64, 128, 256, 512), (2, 2, 2, 2), preact=True),
    "preresnet50": ResNetLayout((64, 128, 256, 512), (3, 4, 6, 3), bottleneck=True, preact=True),
}


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


def branch_scalar_init(scheme, block: int, n_convs: int) -> float | None:
    """The scheme's residual scalar, or Fixup's multiplier (initialised to 1) for Fixup."""
    if scheme.residual_scalar is not None:
        return residual_scalar_init(scheme.residual_scalar, block, n_convs)
    return 1.0 if scheme.fixup else None


@dataclass(frozen=True)
class _Branch:
    """Per-network constants of the residual units: Fixup's ``L^(-1/(2m-2))`` and the initial
    shortcut scalar (``None``: none)."""

    fixup_scale: float
    shortcut_scalar: float | None


def fixup_branch_scale(n_branches: int, depth: int) -> float:
    """Fixup's rescaling ``L^(-1/(2m-2))`` of the non-final layers of a residual branch with
    ``m = depth`` weight layers among ``L = n_branches`` branches (Zhang et al. 2019, §3 rule 2).
    Example: ``fixup_branch_scale(9, 2) == 1/3`` (ResNet-20)."""
    return float(n_branches) ** (-1.0 / (2 * depth - 2)) if n_branches else 1.0


def _shortcut(ctx, name, x, shifted, out: int, stride: int, const: _Branch, *, normalise: bool):
    """Identity ``x``, or a 1x1 projection of ``shifted`` (the unit's input after Fixup's shift;
    v2: after the pre-activation) + norm when ``normalise``, times the shortcut scalar."""
    if stride == 1 and x.shape[-1] == out:
        return x
    alpha = L.scalar(ctx, name + "/scalar", const.shortcut_scalar)
    before_norm = ctx.scheme.normaliser is None or not normalise
    h = L.conv(ctx, name, shifted, out, 1, stride, shift_in=False, shift_out=False,
               scale=alpha if before_norm else None)
    if normalise:
        h = L.norm_act(ctx, name, h, activate=False)
    return h if before_norm or alpha is None else alpha * h


def _unit(ctx, name, x, widths, out: int, stride: int, block: int, const: _Branch, *,
          preact: bool):
    """One residual unit. ``widths``: the branch's convolutions as ``(channels, size)``, the
    last one producing ``out`` channels; the stride sits on the first 3x3 (ResNet v1.5)."""
    s = ctx.scheme
    x = L.multiplicative_noise(ctx, x)
    alpha = L.residual_scalar(ctx, name + "/scalar", branch_scalar_init(s, block, len(widths)))
    pre = L.norm_act(ctx, name + "/pre", x) if preact else x
    shifted = L.fixup_shift(ctx, name + "/in", pre)
    shortcut = _shortcut(ctx, name + "/shortcut", x, shifted, out, stride, const,
                         normalise=not preact)
    h, strided = shifted, False
    for i, (channels, size) in enumerate(widths):
        conv = f"{name}/conv{i + 1}"
        step = 1
        if size == 3 and not strided:
            step, strided = stride, True
        last = i == len(widths) - 1
        if not last:
            h = L.conv(ctx, conv, h, channels, size, step, shift_in=i > 0,
                       init_scale=const.fixup_scale if s.fixup else 1.0)
            h = L.norm_act(ctx, conv, h)
            continue
        before_norm = s.normaliser is None or preact
        h = L.conv(ctx, conv, h, channels, size, step, shift_in=i > 0, zero=s.fixup,
                   scale=alpha if before_norm else None)
        if not preact:
            h = L.norm_act(ctx, conv, h, activate=False)
            h = h if before_norm or alpha is None else alpha * h
    out_h = h + shortcut
    return out_h if preact else ctx.activation.function(out_h)


def _stem(ctx, x, channels: int, *, imagenet: bool, preact: bool):
    if imagenet:  # 7x7/2 convolution, norm-act, 3x3/2 max-pool
        h = L.norm_act(ctx, "stem", L.conv(ctx, "stem", x, channels, 7, 2, first=True))
        return L.max_pool(h, 3, 2, "SAME")
    h = L.conv(ctx, "stem", x, channels, 3, first=True)
    return h if preact else L.norm_act(ctx, "stem", h)


def resnet(ctx, x, *, layout: ResNetLayout, n_classes: int, width_factor: float,
           imagenet_stem: bool, shortcut_scalar: float | None):
    """Forward pass of ``layout``: stem, stages (stride 2 at the first unit of every stage but
    the first, while the map is larger than 1x1), global average pool, classifier, last BN."""
    from kernelnorm.nn._models import channels

    const = _Branch(fixup_branch_scale(layout.n_branches, layout.branch_depth), shortcut_scalar)
    h = _stem(ctx, x, channels(layout.stages[0], width_factor), imagenet=imagenet_stem,
              preact=layout.preact)
    index = 0
    for s, (width, blocks) in enumerate(zip(layout.stages, layout.blocks)):
        width = channels(width, width_factor)
        if layout.bottleneck:
            widths, out = ((width, 1), (width, 3), (4 * width, 1)), 4 * width
        else:
            widths, out = ((width, 3), (width, 3)), width
        for b in range(blocks):
            index += 1
            stride = 2 if (s > 0 and b == 0 and h.shape[1] > 1) else 1
            h = _unit(ctx, f"stage{s}/block{b}", h, widths, out, stride, index, const,
                      preact=layout.preact)
    if layout.preact:  # v2: a final norm-act before pooling, PN without its scaling there
        h = L.norm_act(ctx, "final", h, proxy_scaling=False)
    h = h.mean(axis=(1, 2))
    return L.last_batch_norm(ctx, L.dense(ctx, "classifier", h, n_classes, classifier=True))
