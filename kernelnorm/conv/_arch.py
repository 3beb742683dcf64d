"""Conv architectures read from the one scheme registry: what every layer does at infinite width.

A conv network here is a stack of

* ``Conv`` layers: ``k x k`` convolution (stride 1, ``circular`` or ``same`` padding), the
  scheme's weight transform where the registry's rule applies it, the bias, the scheme's
  normaliser, then the activation step of the next layer;
* ``Pool`` layers: ``w x w`` average pooling;
* an optional readout: global average pooling (``gap``) or ``flatten``, then one dense unit.

The random nets of Proxy Norm Definition 1 are ``depth`` periodic ``3 x 3`` conv layers with a
random per-channel affine ``(gamma, beta)`` before every activation and no readout
(:func:`random_net`); the trainable core's stacks have ``same`` padding, pools and a readout
(:func:`conv_net`). Every number comes from the registry: the weight transform
(``Scheme.transforms_layer``), the gain (:func:`kernelnorm.init_sigma_w2`; ``e^(2g)`` for CZM
filters), the bias (``Scheme.has_bias``), the normaliser and the activation step. Nothing here
names a scheme.

Which schemes have a conv kernel (:func:`conv_kernel_gap`): plain, weight mean, weight
standardisation (at infinite fan-in the fan-in std of ``W`` is 1, so its kernel is weight
mean's with its own gain), CZM filters, layer norm (a per-input rescaling at infinite width)
and LN + proxy norm (ReLU). The others are refused in one line saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kernelnorm._errors import KernelnormInputError
from kernelnorm._registry import SCHEMES, Scheme, get_scheme
from kernelnorm.conv._spatial import PADDINGS

READOUTS = ("gap", "flatten")
#: Definition 1 / their §A.1: gamma ~ N(1, 0.2^2), beta ~ N(0, 0.2^2).
PAPER_AFFINE_STD = 0.2


def conv_kernel_gap(scheme: Scheme) -> str | None:
    """Why the conv kernel engine has no infinite-width kernel for ``scheme`` (``None``: it has).

    Reads the scheme's parts only (normaliser, network-level extras)."""
    if scheme.network_extras:
        layers = scheme.layer_scheme()
        hint = f" (use --norm {layers.name})" if layers is not None else ""
        return (f"{scheme.name} adds {' and '.join(scheme.network_extras)} to the network; the "
                f"conv kernel covers per-layer parts only{hint}")
    if scheme.normaliser in ("batch", "batch-centre"):
        return ("batch statistics couple every input of the batch and stay random per channel "
                "at infinite width, so the kernel of one input pair is not a function of that "
                "pair's kernel (Yang et al. 2019 need the whole batch's Gram matrix)")
    if scheme.normaliser == "instance":
        return ("instance statistics are per channel and per input, so they stay random at "
                "infinite width and the next layer sees a non-Gaussian field (Proxy Norm "
                "Theorem 2 gives IN's power terms exactly: (0, 0, 1, 0))")
    if scheme.normaliser == "group":
        return ("with a fixed number of groups GN tends to LN at infinite width (use --norm ln"
                f"{'+pn' if scheme.proxy else ''}); a finite group of channels keeps random "
                "statistics, which no kernel describes")
    return None


def kernel_scheme_names() -> tuple[str, ...]:
    """The registered schemes the conv kernel engine takes."""
    return tuple(name for name, s in SCHEMES.items() if conv_kernel_gap(s) is None)


def conv_scheme(norm, *, argument: str = "--norm", **overrides) -> Scheme:
    """The registered scheme ``norm``, refused in one line when it has no conv kernel."""
    scheme = get_scheme(norm, argument=argument, **overrides)
    gap = conv_kernel_gap(scheme)
    if gap is not None:
        raise KernelnormInputError(argument, f"{scheme.name} has no infinite-width conv kernel: {gap}")
    return scheme


@dataclass(frozen=True)
class Conv:
    """One conv layer at infinite width.

    ``kind``: ``"plain"`` (``K' = gain mean_o K``), ``"mean"`` (weight mean/WS: minus
    ``gain m(a) m'(a')``) or ``"czm"`` (zero-mean filters); ``gain`` is ``sigma_w^2`` (``e^(2g)``
    for CZM filters, plain unit-norm filters included), ``bias`` ``sigma_b^2``."""

    size: int
    padding: str
    kind: str
    gain: float
    bias: float
    first: bool


@dataclass(frozen=True)
class Pool:
    """``window x window`` average pooling, stride ``window``."""

    window: int


@dataclass(frozen=True)
class Readout:
    """Global average pooling (``gap``) or ``flatten``, then one dense unit with ``gain``,
    ``bias`` and the weight-mean centring where ``kind == "mean"``."""

    pooling: str
    kind: str
    gain: float
    bias: float


def _check_int(argument, value, low=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise KernelnormInputError(argument, f"must be an integer >= {low}, got {value!r}")
    return value


def _layer_kind(scheme: Scheme, *, fan_in: float, first: bool, size: int, classifier=False) -> str:
    if not scheme.transforms_layer(fan_in=fan_in, first=first, classifier=classifier):
        return "plain"
    if scheme.weights in ("mean", "standardise"):
        return "mean"
    if scheme.weights == "czm":
        return "czm" if size > 1 and not classifier else "plain"
    return "plain"


def _gain(scheme: Scheme, activation, *, fan_in: float, first: bool, kind: str, sigma_w2,
          classifier=False) -> float:
    from kernelnorm._schemes import init_sigma_w2

    if sigma_w2 is not None:
        return float(sigma_w2)
    if scheme.weights == "czm":
        return scheme.g_init**2  # W = e^g V with unit-norm filters V: E[V V^T] = I / fan_in
    return init_sigma_w2(scheme, activation, fan_in=fan_in, first=first,
                         transformed=kind == "mean")


def build_layers(scheme: Scheme, activation, layout, *, padding: str, width: float,
                 in_channels: float, sigma_w2=None, sigma_b2: float = 0.0):
    """``Conv``/``Pool`` layers of ``layout`` (ints: conv sizes; ``"A"``: 2x2 average pool;
    ``"M"`` max pooling is refused: the max of correlated Gaussians has no closed-form kernel).
    ``width``: channels of the finite nets the gains are for (``inf``: the limit)."""
    if padding not in PADDINGS:
        raise KernelnormInputError("--padding", f"choose from {', '.join(PADDINGS)}, got {padding!r}")
    bias = float(sigma_b2) if scheme.has_bias else 0.0
    layers, first, channels = [], True, in_channels
    for item in layout:
        if item in ("M", "max"):
            raise KernelnormInputError("--layout", "max pooling has no closed-form infinite-width "
                                       "kernel (the max of correlated Gaussians); use average "
                                       "pooling 'A'")
        if item in ("A", "avg"):
            layers.append(Pool(2))
            continue
        size = _check_int("--kernel-size", item)
        if size % 2 == 0:
            raise KernelnormInputError("--kernel-size", f"must be odd (centred windows), got {size}")
        fan_in = channels * size**2
        kind = _layer_kind(scheme, fan_in=fan_in, first=first, size=size)
        gain = _gain(scheme, activation, fan_in=fan_in, first=first, kind=kind, sigma_w2=sigma_w2)
        layers.append(Conv(size, padding, kind, gain, bias, first))
        first, channels = False, width
    if not any(isinstance(layer, Conv) for layer in layers):
        raise KernelnormInputError("--depth", "the network needs at least one conv layer")
    return tuple(layers)


def build_readout(scheme: Scheme, activation, pooling: str | None, *, width: float,
                  positions: int, sigma_w2=None, sigma_b2: float = 0.0):
    if pooling is None:
        return None
    if pooling not in READOUTS:
        raise KernelnormInputError("--readout", f"choose from {', '.join(READOUTS)}, got {pooling!r}")
    fan_in = width if pooling == "gap" else width * positions
    kind = _layer_kind(scheme, fan_in=fan_in, first=False, size=1, classifier=True)
    gain = _gain(scheme, activation, fan_in=fan_in, first=False, kind=kind, sigma_w2=sigma_w2,
                 classifier=True)
    return Readout(pooling, kind, gain, float(sigma_b2) if scheme.has_bias else 0.0)


def check_depth(depth) -> int:
    return _check_int("--depth", depth)


def infinite(width) -> float:
    if width is None or (isinstance(width, float) and math.isinf(width)):
        return math.inf
    return float(_check_int("--width", width, low=2))
