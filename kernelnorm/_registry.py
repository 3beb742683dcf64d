"""The one registry of normalisation schemes: every engine reads a scheme from here.

A scheme is *composed* from parts, each of which is one operation of :mod:`kernelnorm._ops` and,
where the infinite-width limit is known, one kernel rule of :mod:`kernelnorm._schemes`:

========================  ===============================================================
part                      values
========================  ===============================================================
weight transform          ``plain``; ``mean`` (MimicNorm weight mean, Eq. 10);
                          ``standardise`` (weight standardisation, Qiao et al. 2019);
                          ``czm`` (zero-mean filters ``W = e^g V``, Mean Shift Rejection §3)
normaliser                ``None``; ``batch``; ``batch-centre`` (mean-only BN); ``layer``;
                          ``group`` (with ``groups``); ``instance``
activation step           ``phi`` or the proxy-normalised ``phi`` (Proxy Norm Eq. 7)
network-level extras      ``last_bn`` (MimicNorm §4), ``residual_scalar`` (MimicNorm §4,
                          SkipInit), ``fixup`` (Zhang et al. 2019)
training-time extras      CZMG ``zmg``, LUMA ``luma``, multiplicative ``noise`` (Mean Shift
                          Rejection §3-4)
========================  ===============================================================

Engines and what they take:

* the analytic core, the NTK and the dense Monte-Carlo nets take every scheme whose block has an
  infinite-width dense kernel (:meth:`Scheme.dense_theory_gap` says why one has none);
* the random conv nets of :mod:`kernelnorm.power` take every scheme without network-level extras
  (a random net of Proxy Norm Definition 1 has no logits and no residual branches);
* the trainable nets of :mod:`kernelnorm.nn` take every scheme.

Adding a scheme is one :data:`SCHEMES` entry (see ``docs/extending.md``). :data:`RECIPES` are
named bundles of a scheme's overrides, model options and training settings (the papers' and
their authors' protocols, ``train --preset``), never new schemes. Only the standard library is
imported here, so ``--help`` and the scalar CLI stay fast.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field

from kernelnorm._errors import KernelnormInputError

WEIGHT_TRANSFORMS = ("plain", "mean", "standardise", "czm")
NORMALISERS = (None, "batch", "batch-centre", "layer", "group", "instance")
#: Normalisers whose statistics run over the batch (they couple the inputs of a batch).
BATCH_NORMALISERS = ("batch", "batch-centre")
#: Normalisers that divide by a standard deviation (the output length is fixed to 1).
SCALING_NORMALISERS = ("batch", "layer", "group", "instance")
RESIDUAL_SCALARS = (None, "paper", "code", "zero")
WEIGHT_MEAN_MODES = ("project", "graph")
INIT_RULES = ("stable", "he")


@dataclass(frozen=True)
class WeightMeanRule:
    """Which layers of a network get the scheme's weight transform (one rule for every engine).

    A layer is transformed iff it reads post-activations -- never the first layer, which reads
    data (MimicNorm applies weight mean to hidden layers; CZMI skips the first layer, Mean Shift
    Rejection §3.2) -- and it is not a depthwise convolution (MimicNorm §4: "the total number
    (usually 9) of weights in one channel is too small"), and its fan-in exceeds
    ``min_fan_in``, and (for the classifier) ``classifier`` is true.

    Attributes:
        min_fan_in: transform only layers with ``fan_in > min_fan_in`` (default 1: every layer
            whose weights can be centred; the authors' CIFAR code: 50).
        classifier: whether the final dense layer is transformed (the authors' code: no).
        dense: whether hidden dense layers (FCNN layers, the dense head of the authors' VGG)
            are transformed (the authors' code centres ``nn.Conv2d`` kernels only: no).
        first: whether the first layer is transformed too (the authors' ImageNet code centres
            every non-depthwise convolution, the stem included: yes).

    Example: ``WeightMeanRule().applies(fan_in=576, first=False)`` is True;
    ``AUTHORS_CODE_RULE.applies(fan_in=27, first=False)`` is False.
    """

    min_fan_in: int = 1
    classifier: bool = True
    dense: bool = True
    first: bool = False

    def __post_init__(self):
        if isinstance(self.min_fan_in, bool) or not isinstance(self.min_fan_in, (int, float)) \
                or int(self.min_fan_in) != self.min_fan_in or self.min_fan_in < 1:
            raise KernelnormInputError("--wm-min-fan-in", f"must be an integer >= 1, got "
                                       f"{self.min_fan_in!r}")

    def applies(self, *, fan_in: int, first: bool, classifier: bool = False,
                depthwise: bool = False, dense: bool = False) -> bool:
        """``dense``: the layer is a hidden dense layer (not the classifier, not a conv)."""
        if (first and not self.first) or depthwise or fan_in <= self.min_fan_in:
            return False
        if classifier:
            return self.classifier
        return self.dense or not dense


#: MimicNorm §4 as written: every hidden layer, depthwise convolutions skipped.
PAPER_RULE = WeightMeanRule()
#: The authors' CIFAR code (``meanweigh``): conv kernels with fan-in > 50 only (fan-in counts
#: ``in/groups x kh x kw``, so depthwise 3x3 kernels, fan-in 9, are skipped), never a linear layer.
AUTHORS_CODE_RULE = WeightMeanRule(min_fan_in=50, classifier=False, dense=False)
#: The authors' ImageNet code: every convolution with ``groups == 1``, the stem included, never a
#: linear layer.
AUTHORS_IMAGENET_RULE = WeightMeanRule(min_fan_in=1, classifier=False, dense=False, first=True)
WEIGHT_MEAN_RULES = {"paper": PAPER_RULE, "authors-code": AUTHORS_CODE_RULE,
                     "authors-imagenet": AUTHORS_IMAGENET_RULE}
ZMG_FORMS = ("paper", "authors")


@dataclass(frozen=True)
class Scheme:
    """One normalisation scheme, composed from parts (see the module docstring).

    Attributes:
        name: the one ``--norm`` name; ``aliases``: other accepted spellings.
        label: display label (tables, figures); ``summary``: one line for ``--help`` and docs;
        reference: the paper (and section) the scheme comes from.
        weights: weight transform, one of :data:`WEIGHT_TRANSFORMS`.
        normaliser: one of :data:`NORMALISERS`; ``groups``: groups of ``group``.
        proxy: proxy-normalised activation step (Proxy Norm Eq. 7) with ``proxy_eps`` and
            ``proxy_quantiles`` Gaussian quantiles; ``proxy_extra``: trainable per-channel
            ``beta~, gamma~`` of the proxy ``Y ~ N(beta~, (1 + gamma~)^2)`` (Eq. 7, initialised
            to 0 and weight-decayed, the paper's default; off: ``Y ~ N(0, 1)``, their §A.3.3).
        last_bn: one BN without affine on the logits (MimicNorm §4).
        residual_scalar: trainable residual-branch scalar, ``"paper"`` (``1/sqrt(l)``),
            ``"code"`` (``1.2^k/l``), ``"zero"`` (SkipInit) or ``None``.
        fixup: Fixup (Zhang, Dauphin, Ma 2019, §3): classifier and the last layer of every
            residual branch initialised to 0, the other branch layers scaled by
            ``L^(-1/(2m-2))``, a scalar multiplier per branch and scalar biases before every
            convolution, the classifier and every activation; no per-channel biases.
        zmg: CZMG factor (``None``: no gradient projection): ``z`` of ``grad - z mean`` in the
            paper's form, ``M`` of ``grad (1 + M) - M mean`` in the reference code's
            (``zmg_form``; :func:`kernelnorm.train.zero_mean_gradient_transform`).
        zmg_form: ``"paper"`` (Mean Shift Rejection §3.3) or ``"authors"`` (their code).
        luma: LUMA loss weight ``lambda`` (``None``: plain L2 decay).
        noise: amplitude ``a`` of multiplicative ``U(1-a, 1+a)`` noise at residual inputs.
        g_init: initial ``e^g`` of the ``czm`` reparameterisation ``W = e^g V``.
        weight_mean_rule: which layers get the weight transform (:class:`WeightMeanRule`).
        weight_mean_mode: trainable nets: ``"project"`` after the step (MimicNorm Appendix C)
            or ``"graph"`` (centred inside the forward pass).
        init: ``"stable"`` (``q* = 1`` for the layer as it is: Theorem 3 for weight mean) or
            ``"he"`` (the plain layer's stable init for every layer).
    """

    name: str
    label: str
    summary: str
    reference: str = ""
    weights: str = "plain"
    normaliser: str | None = None
    groups: int = 8
    proxy: bool = False
    proxy_eps: float = 0.03
    proxy_quantiles: int = 200
    proxy_extra: bool = False
    last_bn: bool = False
    residual_scalar: str | None = None
    fixup: bool = False
    zmg: float | None = None
    zmg_form: str = "paper"
    luma: float | None = None
    noise: float = 0.0
    g_init: float = 0.8
    weight_mean_rule: WeightMeanRule = PAPER_RULE
    weight_mean_mode: str = "project"
    init: str = "stable"
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        _check_choice("--norm", "weight transform", self.weights, WEIGHT_TRANSFORMS)
        _check_choice("--norm", "normaliser", self.normaliser, NORMALISERS)
        if self.residual_scalar == "none":  # explicit "no scalar" from the command line
            object.__setattr__(self, "residual_scalar", None)
        _check_choice("--residual-scalar", "residual scalar", self.residual_scalar,
                      RESIDUAL_SCALARS)
        _check_choice("--weight-mean-mode", "mode", self.weight_mean_mode, WEIGHT_MEAN_MODES)
        _check_choice("--init", "init rule", self.init, INIT_RULES)
        if isinstance(self.weight_mean_rule, str):
            _check_choice("--wm-rule", "rule", self.weight_mean_rule, tuple(WEIGHT_MEAN_RULES))
            object.__setattr__(self, "weight_mean_rule", WEIGHT_MEAN_RULES[self.weight_mean_rule])
        _check_number("--groups", self.groups, low=1, integer=True)
        _check_number("--proxy-eps", self.proxy_eps, low=0.0)
        _check_number("--proxy-quantiles", self.proxy_quantiles, low=2, integer=True)
        _check_choice("--zmg-form", "CZMG form", self.zmg_form, ZMG_FORMS)
        if self.zmg is not None:  # z in [0, 1] (paper), M >= 0 (the authors' code)
            _check_number("--zmg", self.zmg, low=0.0, high=1.0 if self.zmg_form == "paper" else None)
        if self.luma is not None:
            _check_number("--luma", self.luma, low=0.0)
        _check_number("--noise", self.noise, low=0.0, high=1.0, open_high=True)
        _check_number("--g-init", self.g_init, low=0.0, open_low=True)

    # -- derived properties, read by the engines --
    @property
    def scales(self) -> bool:
        """The normaliser divides by a standard deviation: the layer's output length is fixed."""
        return self.normaliser in SCALING_NORMALISERS

    @property
    def batch_coupled(self) -> bool:
        return self.normaliser in BATCH_NORMALISERS

    @property
    def has_bias(self) -> bool:
        """Layers carry a bias unless a normaliser (with its own shift) follows them."""
        return self.normaliser is None

    @property
    def network_extras(self) -> tuple[str, ...]:
        """Network-level parts (they need logits or residual branches)."""
        extras = []
        if self.last_bn:
            extras.append("last BN")
        if self.residual_scalar is not None:
            extras.append("residual scalar")
        if self.fixup:
            extras.append("Fixup")
        return tuple(extras)

    def dense_theory_gap(self) -> str | None:
        """Why a fully connected block of this scheme has no infinite-width kernel here, or
        ``None`` when it has one (the analytic core, NTK and dense Monte-Carlo need one)."""
        if self.network_extras:
            layers = self.layer_scheme()
            hint = f" (use --norm {layers.name})" if layers is not None else ""
            return (f"{self.name} adds {' and '.join(self.network_extras)} to the network; the "
                    f"per-layer kernel theory covers its layers only{hint}")
        if self.weights == "czm":
            return ("zero-mean filters act on spatial slices, which a dense layer does not have "
                    "(use the conv engines: kernelnorm power, or train)")
        if self.normaliser == "instance":
            return "instance norm needs spatial positions, which a dense layer does not have"
        return None

    def layer_scheme(self) -> "Scheme | None":
        """The registered scheme with this one's layers and no network-level extras
        (MimicNorm -> weight mean, last BN -> plain), or ``None``."""
        for other in SCHEMES.values():
            if not other.network_extras and (other.weights, other.normaliser, other.proxy) == \
                    (self.weights, self.normaliser, self.proxy):
                return other
        return None

    def conv_net_gap(self) -> str | None:
        """Why the random conv nets of Proxy Norm Definition 1 cannot run this scheme."""
        if self.network_extras:
            layers = self.layer_scheme()
            hint = f" (use --norm {layers.name})" if layers is not None else ""
            return (f"{self.name} adds {' and '.join(self.network_extras)}; a random net of "
                    f"Proxy Norm Definition 1 has no logits and no residual branches{hint}")
        return None

    def transforms_layer(self, *, fan_in: int, first: bool, classifier: bool = False,
                         depthwise: bool = False, dense: bool = False) -> bool:
        """Whether a layer gets the weight transform (:class:`WeightMeanRule`)."""
        if self.weights == "plain":
            return False
        return self.weight_mean_rule.applies(fan_in=fan_in, first=first, classifier=classifier,
                                             depthwise=depthwise, dense=dense)

    def replace(self, **changes) -> "Scheme":
        """A copy with fields replaced; ``None`` values mean "keep" (CLI defaults pass
        through) except for fields whose ``None`` is meaningful, which take the string
        ``"none"``."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise KernelnormInputError(f"--{unknown[0].replace('_', '-')}",
                                       f"is not an option of a scheme")
        for key in ("zmg", "luma"):
            if changes.get(key) == "none":
                changes[key] = None
        return dataclasses.replace(self, **changes) if changes else self


def _check_choice(argument, what, value, choices):
    if value not in choices:
        shown = ", ".join("none" if c is None else c for c in choices)
        raise KernelnormInputError(argument, f"unknown {what} {value!r} (choose from {shown})")


def _check_number(argument, value, *, low=None, high=None, integer=False, open_low=False,
                  open_high=False):
    import math

    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value < high if open_high else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if open_low else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if open_high else '<='} {high}")
        kind = "an integer" if integer else "a number"
        raise KernelnormInputError(argument, f"must be {kind} {' and '.join(bounds)}, got {value!r}")


_MIMICNORM = "Fei et al., MimicNorm (AAAI 2021)"
_MSR = "Ruff, Beck, Bach, Mean Shift Rejection (arXiv 1911.13173)"
_PN = "Labatie et al., Proxy Normalization (NeurIPS 2021)"

#: The registry: canonical name -> scheme. Order is the display order of tables and ``--help``.
SCHEMES: dict[str, Scheme] = {s.name: s for s in (
    Scheme("plain", "plain", "no normalisation (NoNorm): plain layers, He-type stable init",
           aliases=("none", "nonorm", "no-norm")),
    Scheme("weight-mean", "weight mean", "weight mean W - mean_fan_in(W) with the Theorem 3 init",
           f"{_MIMICNORM}, §3, Eq. 10, Theorem 3", weights="mean",
           aliases=("wm", "weight_mean", "weightmean")),
    Scheme("ws", "WS", "scaled weight standardisation, no activation normaliser "
           "(Qiao et al. 2019; gain of Brock et al. 2021)", "Qiao et al. 2019; Brock et al. 2021",
           weights="standardise", aliases=("weight-standardisation", "sws")),
    Scheme("bn", "BN", "batch norm after every weight layer", "Ioffe & Szegedy 2015; "
           f"{_MIMICNORM}, Eq. 9, Theorem 2", normaliser="batch",
           aliases=("batch", "batch-norm", "batchnorm")),
    Scheme("mean-bn", "mean-only BN", "mean-only batch norm: subtract the batch mean, no "
           "division (Salimans & Kingma 2016)", "Salimans & Kingma 2016, §3.2",
           normaliser="batch-centre", aliases=("mean-only-bn", "mbn")),
    Scheme("ln", "LN", "layer norm after every weight layer", f"Ba et al. 2016; {_PN}",
           normaliser="layer", aliases=("layer", "layer-norm", "layernorm")),
    Scheme("gn", "GN", "group norm after every weight layer", f"Wu & He 2018; {_PN}",
           normaliser="group", aliases=("group", "group-norm", "groupnorm")),
    Scheme("in", "IN", "instance norm after every weight layer", f"Ulyanov et al. 2016; {_PN}",
           normaliser="instance", aliases=("instance", "instance-norm", "instancenorm")),
    Scheme("ln+pn", "LN+PN", "layer norm + proxy-normalised activations", f"{_PN}, Eq. 7",
           normaliser="layer", proxy=True, aliases=("ln-pn", "lnpn")),
    Scheme("gn+pn", "GN+PN", "group norm + proxy-normalised activations", f"{_PN}, Eq. 7",
           normaliser="group", proxy=True, aliases=("gn-pn", "gnpn")),
    Scheme("ln+ws", "LN+WS", "layer norm + weight standardisation", f"{_PN}, Figure 2",
           weights="standardise", normaliser="layer", aliases=("ln-ws", "lnws")),
    Scheme("czmig", "CZMIG", "zero-mean filters W = e^g V (CZMI), CZMG gradients, LUMA, "
           "multiplicative noise", f"{_MSR}, §3-4", weights="czm", zmg=0.85, luma=5e-4,
           noise=0.1, aliases=("czm", "czmi", "msr", "mean-shift-rejection")),
    Scheme("last-bn", "last BN", "plain layers + one BN without affine on the logits",
           f"{_MIMICNORM}, §4", last_bn=True, aliases=("lastbn",)),
    Scheme("mimicnorm", "MimicNorm", "weight mean + last BN + residual-branch scalar 1/sqrt(l)",
           f"{_MIMICNORM}, §4", weights="mean", last_bn=True, residual_scalar="paper",
           aliases=("mimic",)),
    Scheme("skipinit", "SkipInit", "plain layers + residual-branch scalar initialised to 0",
           "De & Smith 2020", residual_scalar="zero"),
    Scheme("fixup", "Fixup", "no normalisation: zero classifier and last branch layers, other "
           "branch layers x L^(-1/(2m-2)), branch multipliers and scalar biases",
           "Zhang, Dauphin, Ma, Fixup Initialization (ICLR 2019), §3", fixup=True),
)}

_ALIASES = {alias: s.name for s in SCHEMES.values() for alias in (s.name, *s.aliases)}


def scheme_names(*, engine: str | None = None) -> tuple[str, ...]:
    """Canonical names, optionally only those an engine takes (``"dense"``: analytic core, NTK,
    dense Monte-Carlo; ``"conv"``: random conv nets; ``"train"``: every scheme)."""
    if engine in (None, "train"):
        return tuple(SCHEMES)
    gap = {"dense": Scheme.dense_theory_gap, "conv": Scheme.conv_net_gap}[engine]
    return tuple(name for name, s in SCHEMES.items() if gap(s) is None)


def norm_help(*, engine: str | None = None) -> str:
    """``--norm`` help text listing the registry's names for an engine (see :func:`scheme_names`)."""
    return "one of " + ", ".join(scheme_names(engine=engine))


def get_scheme(norm: "str | Scheme", *, argument: str = "--norm", **overrides) -> Scheme:
    """The registered scheme called ``norm`` (any alias, any case), with ``overrides``.

    ``overrides`` replace fields (``None`` values are ignored so that CLI defaults pass through),
    e.g. ``get_scheme("gn", groups=4)`` or ``get_scheme("czmig", zmg=1.0)``.
    """
    if isinstance(norm, Scheme):
        scheme = norm
    else:
        if not isinstance(norm, str):
            raise KernelnormInputError(argument, f"expected a scheme name, got {norm!r}")
        key = _ALIASES.get(norm.strip().lower())
        if key is None:
            raise KernelnormInputError(
                argument, f"unknown scheme {norm!r} (choose from {', '.join(SCHEMES)})")
        scheme = SCHEMES[key]
    return scheme.replace(**overrides)


def require_engine(scheme: Scheme, engine: str, *, argument: str = "--norm") -> Scheme:
    """``scheme`` if ``engine`` (``"dense"`` or ``"conv"``) can run it, else a one-line error
    naming ``argument`` and the reason."""
    gap = scheme.dense_theory_gap() if engine == "dense" else scheme.conv_net_gap()
    if gap is not None:
        what = "has no infinite-width dense kernel" if engine == "dense" else \
            "cannot run in the random conv nets"
        raise KernelnormInputError(argument, f"{scheme.name} {what}: {gap}")
    return scheme


# -- recipes: the papers' and their authors' settings as named bundles (``train --preset``) ------
#
# A recipe is not a scheme: it names a registered scheme and bundles overrides of that scheme's
# fields, model options of :func:`kernelnorm.nn.build_network` and :class:`kernelnorm.train.
# TrainConfig` settings, with per-model exceptions where the authors' code differs between
# models. Explicit settings always win over the recipe, and the recipe over the built-in
# defaults (:func:`resolve_run`). Kept here, with the schemes, so that the command line lists
# them without importing JAX.

#: Built-in defaults of ``kernelnorm train`` (used where neither the command line nor a recipe
#: sets a value).
TRAIN_DEFAULTS = {"epochs": 5, "batch_size": 128, "lr": 0.1, "schedule": "mimicnorm-cifar",
                  "momentum": 0.9, "weight_decay": 5e-4, "augment": False, "rotation": 0.0,
                  "scalar_lr_factor": 1.0}
RUN_DEFAULTS = {"norm": "mimicnorm", "model": "resnet20"}


@dataclass(frozen=True)
class Recipe:
    """A published protocol.

    Attributes:
        name, summary, source: what it is and where it comes from.
        norm: the registered scheme it trains (``--norm`` replaces it; the scheme overrides
            then do not apply, the model and training settings do).
        scheme: scheme-field overrides for ``norm`` (e.g. ``weight_mean_rule``).
        model: model options (``vgg_head``, ``shortcut_scalar``, ``stem``, ``dropout``).
        train: training settings (:class:`TrainConfig` fields, plus ``augment``: random crop
            and flip).
        per_model: ``{pattern: {"scheme"|"model"|"train": {...}}}`` applied on top for models
            whose name matches the shell-style ``pattern`` (first match wins).
        default_model: the recipe's model when ``--model`` is not given.
        data: the data set the protocol is for (informational; ``--data`` chooses).
    """

    name: str
    summary: str
    source: str
    norm: str
    scheme: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    per_model: dict = field(default_factory=dict)
    default_model: str = "resnet20"
    data: str = ""

    def settings(self, model: str) -> dict:
        """``{"scheme", "model", "train"}`` for ``model``: the recipe's, with the first matching
        per-model exception applied."""
        out = {"scheme": dict(self.scheme), "model": dict(self.model), "train": dict(self.train)}
        for pattern, extra in self.per_model.items():
            if fnmatch.fnmatchcase(model, pattern):
                for part, values in extra.items():
                    out[part].update(values)
                break
        return out


_MN_CODE = "github.com/Kid-key/MimicNorm"
_CIFAR_TRAIN = {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "mimicnorm-cifar",
                "epochs": 150, "batch_size": 256, "augment": True}

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("mimicnorm-paper", "MimicNorm as the paper writes it: every hidden layer centred, "
           "Theorem 3 init, branch scalar 1/sqrt(l); CIFAR-100 protocol",
           f"{_MIMICNORM}, §4-5", "mimicnorm", train=_CIFAR_TRAIN,
           per_model={"resnet50": {"train": {"batch_size": 128}}}, default_model="resnet18",
           data="cifar100"),
    Recipe("mimicnorm-authors", "the authors' CIFAR-100 code: conv kernels with fan-in > 50 "
           "centred (not linear layers), branch scalar 1.2^k/l, init 2/n (ResNets, ShuffleNet) "
           "or ~2.8/n (VGG, SqueezeNet: Theorem 3), VGG head 4096-4096 with dropout, 1.2 on "
           "ShuffleNet's down-sampling branch, crop + flip + 15 degree rotation",
           f"{_MIMICNORM}, §5; {_MN_CODE} Cifar100/", "mimicnorm",
           scheme={"weight_mean_rule": "authors-code", "residual_scalar": "code", "init": "he"},
           model={"vgg_head": "authors", "stem": "cifar"},
           train={**_CIFAR_TRAIN, "rotation": 15.0},
           per_model={"vgg*": {"scheme": {"init": "stable"}},
                      "squeezenet": {"scheme": {"init": "stable", "residual_scalar": "none"}},
                      "shufflenetv2*": {"model": {"shortcut_scalar": 1.2}},
                      "resnet50": {"train": {"batch_size": 128}}},
           default_model="resnet18", data="cifar100"),
    Recipe("mimicnorm-authors-imagenet", "the authors' ImageNet code: every non-depthwise "
           "convolution centred (stem included, not linear layers), branch scalar 1.2^k/l, "
           "1.2 on projection shortcuts, init 2/n, 90 epochs, x0.1 at 30/60/85, wd 1e-4",
           f"{_MIMICNORM}, §5; {_MN_CODE} ImageNet/", "mimicnorm",
           scheme={"weight_mean_rule": "authors-imagenet", "residual_scalar": "code",
                   "init": "he"},
           model={"vgg_head": "authors", "stem": "imagenet", "shortcut_scalar": 1.2},
           train={"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 90,
                  "schedule": "mimicnorm-imagenet", "batch_size": 256, "augment": True},
           per_model={"vgg*": {"scheme": {"init": "stable"}, "model": {"shortcut_scalar": None}}},
           default_model="resnet50", data="imagenet"),
    Recipe("msr-resnet110", "CZMIG of Mean Shift Rejection Table 1: ResNet-110, CIFAR-10, LR "
           "0.4, z = 0.85, noise 0.1, LUMA 5e-4, e^g = 0.8, 200 epochs, x0.1 at 100 and 150",
           f"{_MSR}, §4", "czmig", scheme={"zmg": 0.85, "zmg_form": "paper", "noise": 0.1, "luma": 5e-4,
                                  "g_init": 0.8},
           train={"lr": 0.4, "momentum": 0.9, "schedule": "msr-resnet110", "epochs": 200,
                  "batch_size": 128, "augment": True},
           default_model="resnet110", data="cifar10"),
    Recipe("msr-bn-resnet110", "the batch-norm baseline of Mean Shift Rejection Table 1: "
           "ResNet-110, LR 0.1, L2 decay 5e-4, same schedule", f"{_MSR}, §4", "bn",
           train={"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "msr-resnet110",
                  "epochs": 200, "batch_size": 128, "augment": True},
           default_model="resnet110", data="cifar10"),
    Recipe("fixup-cifar", "Fixup's CIFAR code: LR 0.1, batch 128, 200 epochs, x0.1 at 100 and "
           "150, wd 1e-4, scalar multipliers and biases at LR/10 (no mixup here)",
           "Zhang, Dauphin, Ma, Fixup (ICLR 2019), §4.1; github.com/hongyi-zhang/Fixup",
           "fixup", train={"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 200,
                           "schedule": "fixup-cifar", "batch_size": 128, "augment": True,
                           "scalar_lr_factor": 0.1},
           default_model="resnet110", data="cifar10"),
    Recipe("pn-cifar", "Proxy Norm's CIFAR protocol: pre-activation ResNets, GN+PN with "
           "trainable beta~, gamma~, 160 epochs, 5 warm-up, decay at 80 and 120",
           f"{_PN}, Appendix A.1, A.4", "gn+pn",
           scheme={"proxy_extra": True},
           train={"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "epochs": 160,
                  "schedule": "pn-cifar", "batch_size": 128, "augment": True},
           default_model="preresnet20", data="cifar10"),
)}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KernelnormInputError("--preset", f"unknown preset {name!r} (choose from {', '.join(RECIPES)})")
    return RECIPES[name]


def resolve_run(preset: str | None, *, norm: str | None = None, model: str | None = None,
                scheme: dict | None = None, model_options: dict | None = None,
                train: dict | None = None) -> dict:
    """Settings of one run: explicit values (``None`` = not given) over the recipe ``preset``
    over the built-in defaults.

    ``scheme`` may hold ``wm_min_fan_in`` and ``wm_classifier``: they replace those fields of
    the weight-mean rule in force (explicit ``weight_mean_rule``, the recipe's, or the
    scheme's own). Returns ``{"norm", "model", "scheme", "model_options", "train"}`` where
    ``train`` has every :data:`TRAIN_DEFAULTS` key.

    Example: ``resolve_run("msr-resnet110", train={"epochs": 20})["train"]["lr"] == 0.4``.
    """
    recipe = get_recipe(preset) if preset is not None else None
    model = model or (recipe.default_model if recipe else RUN_DEFAULTS["model"])
    norm = norm or (recipe.norm if recipe else RUN_DEFAULTS["norm"])
    given = lambda d: {k: v for k, v in (d or {}).items() if v is not None}  # noqa: E731
    base = recipe.settings(model) if recipe else {"scheme": {}, "model": {}, "train": {}}
    own = get_scheme(norm).name == get_scheme(recipe.norm).name if recipe else False
    scheme_settings = {**(base["scheme"] if own else {}), **given(scheme)}
    rule_fields = {"min_fan_in": scheme_settings.pop("wm_min_fan_in", None),
                   "classifier": scheme_settings.pop("wm_classifier", None)}
    if any(v is not None for v in rule_fields.values()):
        rule = scheme_settings.get("weight_mean_rule") or get_scheme(norm).weight_mean_rule
        rule = WEIGHT_MEAN_RULES[rule] if isinstance(rule, str) else rule
        scheme_settings["weight_mean_rule"] = dataclasses.replace(rule, **given(rule_fields))
    return {"norm": norm, "model": model, "scheme": scheme_settings,
            "model_options": {**base["model"], **given(model_options)},
            "train": {**TRAIN_DEFAULTS, **base["train"], **given(train)}}
