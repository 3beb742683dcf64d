"""Recipes: the papers' and their authors' settings as named bundles (``train --preset NAME``).

A recipe is not a scheme: it names a registered scheme (:data:`kernelnorm.SCHEMES`) and
bundles overrides of that scheme's fields, model options of
:func:`kernelnorm.nn.build_network` and :class:`TrainConfig` settings, with per-model
exceptions where the authors' code differs between models. Explicit settings always win over
the recipe, and the recipe over the built-in defaults (:func:`resolve_run`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass, field

from kernelnorm._errors import KernelnormInputError

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


_MN = "Fei et al., MimicNorm (AAAI 2021)"
_MN_CODE = "github.com/Kid-key/MimicNorm"
_MSR = "Ruff, Beck, Bach, Mean Shift Rejection (arXiv 1911.13173), §4"
_CIFAR_TRAIN = {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "mimicnorm-cifar",
                "epochs": 150, "batch_size": 256, "augment": True}

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("mimicnorm-paper", "MimicNorm as the paper writes it: every hidden layer centred, "
           "Theorem 3 init, branch scalar 1/sqrt(l); CIFAR-100 protocol",
           f"{_MN}, §4-5", "mimicnorm", train=_CIFAR_TRAIN,
           per_model={"resnet50": {"train": {"batch_size": 128}}}, default_model="resnet18",
           data="cifar100"),
    Recipe("mimicnorm-authors", "the authors' CIFAR-100 code: conv kernels with fan-in > 50 "
           "centred (not linear layers), branch scalar 1.2^k/l, init 2/n (ResNets, ShuffleNet) "
           "or ~2.8/n (VGG, SqueezeNet: Theorem 3), VGG head 4096-4096 with dropout, 1.2 on "
           "ShuffleNet's down-sampling branch, crop + flip + 15 degree rotation",
           f"{_MN}, §5; {_MN_CODE} Cifar100/", "mimicnorm",
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
           f"{_MN}, §5; {_MN_CODE} ImageNet/", "mimicnorm",
           scheme={"weight_mean_rule": "authors-imagenet", "residual_scalar": "code",
                   "init": "he"},
           model={"vgg_head": "authors", "stem": "imagenet", "shortcut_scalar": 1.2},
           train={"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 90,
                  "schedule": "mimicnorm-imagenet", "batch_size": 256, "augment": True},
           per_model={"vgg*": {"scheme": {"init": "stable"}, "model": {"shortcut_scalar": None}}},
           default_model="resnet50", data="imagenet"),
    Recipe("msr-resnet110", "CZMIG of Mean Shift Rejection Table 1: ResNet-110, CIFAR-10, LR "
           "0.4, z = 0.85, noise 0.1, LUMA 5e-4, e^g = 0.8, 200 epochs, x0.1 at 100 and 150",
           _MSR, "czmig", scheme={"zmg": 0.85, "zmg_form": "paper", "noise": 0.1, "luma": 5e-4,
                                  "g_init": 0.8},
           train={"lr": 0.4, "momentum": 0.9, "schedule": "msr-resnet110", "epochs": 200,
                  "batch_size": 128, "augment": True},
           default_model="resnet110", data="cifar10"),
    Recipe("msr-bn-resnet110", "the batch-norm baseline of Mean Shift Rejection Table 1: "
           "ResNet-110, LR 0.1, L2 decay 5e-4, same schedule", _MSR, "bn",
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
           "Labatie et al., Proxy Normalization (NeurIPS 2021), Appendix A.1, A.4", "gn+pn",
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
    from kernelnorm._registry import WEIGHT_MEAN_RULES, get_scheme

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
