"""Training commands: ``train`` (one run, JSON-lines metrics) and ``memory`` (peak memory of one
jitted training step per normalisation scheme, from XLA's compiled memory analysis).

Settings resolve as explicit flag > ``--preset`` recipe > built-in default
(:func:`kernelnorm.train.resolve_run`), so every flag defaults to ``None`` here."""

from __future__ import annotations

import argparse

from kernelnorm.cli._common import (
    add_json,
    add_norm_argument,
    emit,
    finite_float,
    format_table,
    integer,
    nonnegative_float,
    number,
    output_file,
    positive_float,
    positive_int,
    seed,
)

FCNN_DEPTH, FCNN_WIDTH = 3, 128


def _optional_number(low: float = 0.0):
    """A number ``>= low``, or ``none`` (the option switched off)."""
    def parse(text: str):
        if text.lower() == "none":
            return "none"
        value = finite_float(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low} or 'none', got {text!r}")
        return value

    parse.__name__ = "number or none"
    return parse


def _epoch_list(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive epochs, got {text!r}")
    return values


def _scheme_args(args) -> dict:
    return {"residual_scalar": args.residual_scalar, "weight_mean_mode": args.weight_mean_mode,
            "zmg": args.zmg, "zmg_form": args.zmg_form, "init": args.init, "groups": args.groups,
            "weight_mean_rule": args.wm_rule, "wm_min_fan_in": args.wm_min_fan_in,
            "wm_classifier": args.wm_classifier, "noise": args.noise, "luma": args.luma,
            "g_init": args.g_init, "proxy_extra": args.proxy_extra}


def _model_args(args) -> dict:
    return {"stem": args.stem, "vgg_head": args.vgg_head, "dropout": args.dropout,
            "shortcut_scalar": None if args.shortcut_scalar == "none" else args.shortcut_scalar}


#: ``kernelnorm.nn.MODEL_NAMES`` written out: the parser must not import JAX (a test keeps the
#: two in step).
MODELS = ("fcnn, vgg-small, vgg11, vgg16, resnet8, resnet20, resnet32, resnet44, resnet56, "
          "resnet110, resnet18, resnet34, resnet50, resnet101, preresnet8, preresnet20, "
          "preresnet32, preresnet44, preresnet56, preresnet110, preresnet18, preresnet50, "
          "squeezenet, shufflenetv2, shufflenetv2-x0.5, shufflenetv2-x1.5, shufflenetv2-x2.0")


def _add_model_arguments(parser, *, norm: bool = True) -> None:
    from kernelnorm._registry import RECIPES

    parser.add_argument("--preset", default=None, choices=tuple(RECIPES), metavar="PRESET",
                        help="a paper's or its authors' settings, explicit flags win (docs/"
                             f"training.md, Recipes): {', '.join(RECIPES)}")
    parser.add_argument("--model", default=None,
                        help=f"{MODELS} (default: the preset's, else resnet20)")
    if norm:
        add_norm_argument(parser, default=None)
    parser.add_argument("--activation", default="relu",
                        help="relu, erf, tanh, gelu, silu, identity; the init gains follow it "
                             "(default: %(default)s)")
    parser.add_argument("--width-factor", type=positive_float, default=1.0,
                        help="scale every CNN channel count (default: %(default)s)")
    parser.add_argument("--depth", type=positive_int, default=None,
                        help=f"FCNN hidden layers (default: {FCNN_DEPTH})")
    parser.add_argument("--width", type=integer(2), default=None,
                        help=f"FCNN width (default: {FCNN_WIDTH})")
    scheme = parser.add_argument_group("scheme options (override the scheme's registry values)")
    scheme.add_argument("--residual-scalar", choices=("paper", "code", "zero", "none"), default=None,
                        help="residual-branch scalar init: paper 1/sqrt(l), code 1.2^k/l, zero, or none")
    scheme.add_argument("--weight-mean-mode", choices=("project", "graph"), default=None,
                        help="weight mean as a projection after the step (default) or in the graph")
    scheme.add_argument("--zmg", type=_optional_number(), default=None,
                        help="CZMG factor: z of grad - z mean (paper form, in [0, 1]; czmig: 0.85) "
                             "or M of grad (1+M) - M mean (--zmg-form authors); none: no CZMG")
    scheme.add_argument("--zmg-form", choices=("paper", "authors"), default=None,
                        help="CZMG as the paper writes it or as its reference code "
                             "(= paper form with z = M/(1+M), gradients x (1+M))")
    scheme.add_argument("--noise", type=nonnegative_float, default=None,
                        help="amplitude a of U(1-a, 1+a) noise at residual inputs (czmig: 0.1)")
    scheme.add_argument("--luma", type=_optional_number(), default=None,
                        help="LUMA weight lambda (czmig: 5e-4); none: plain L2 decay")
    scheme.add_argument("--g-init", type=positive_float, default=None,
                        help="initial e^g of W = e^g V (czmig: 0.8)")
    scheme.add_argument("--init", choices=("stable", "he"), default=None,
                        help="kernel init: stable (q* = 1 for the layer as it is: Theorem 3 for "
                             "weight mean; default) or he (the plain layer's, for every layer)")
    scheme.add_argument("--wm-rule", choices=("paper", "authors-code", "authors-imagenet"),
                        default=None,
                        help="layers that get the weight transform: paper (every hidden layer, "
                             "depthwise skipped; default), authors-code (convolutions with fan-in "
                             "> 50), authors-imagenet (every non-depthwise convolution, stem "
                             "included); neither authors' rule centres linear layers")
    scheme.add_argument("--wm-min-fan-in", type=positive_int, default=None,
                        help="transform only layers with fan-in > N (paper 1, authors' CIFAR code 50)")
    scheme.add_argument("--wm-classifier", action=argparse.BooleanOptionalAction, default=None,
                        help="transform the classifier too (paper: yes; authors' code: no)")
    scheme.add_argument("--proxy-extra", action=argparse.BooleanOptionalAction, default=None,
                        help="PN's trainable per-channel beta~, gamma~ (Eq. 7; the paper's default)")
    scheme.add_argument("--groups", type=positive_int, default=None, help="GN groups (default 8)")
    model = parser.add_argument_group("model options")
    model.add_argument("--stem", choices=("auto", "cifar", "imagenet"), default=None,
                       help="cifar (3x3, stride 1), imagenet (7x7/2 + max-pool), auto (imagenet "
                            "from 128 px; default)")
    model.add_argument("--vgg-head", choices=("linear", "authors"), default=None,
                       help="VGG head: linear (global pool + classifier; default) or authors "
                            "(4096-4096 dense layers with dropout)")
    model.add_argument("--dropout", type=nonnegative_float, default=None,
                       help="dropout of the authors' VGG head (default 0.5)")
    model.add_argument("--shortcut-scalar", type=_optional_number(float("-inf")), default=None,
                       help="trainable scalar on projection shortcuts, initial value (authors' "
                            "ImageNet ResNets and CIFAR ShuffleNetV2: 1.2; default none)")


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a network on a data set with one normalisation scheme")
    _add_model_arguments(train)
    train.add_argument("--data", default="digits",
                       help="digits, mnist1d, mnist:DIR, cifar10:DIR, cifar100:DIR (default: %(default)s)")
    opt = train.add_argument_group("training (defaults: the preset's, else the values shown)")
    opt.add_argument("--epochs", type=integer(1, 100_000), default=None, help="default 5")
    opt.add_argument("--lr", type=positive_float, default=None, help="default 0.1")
    opt.add_argument("--batch-size", type=positive_int, default=None, help="default 128")
    opt.add_argument("--schedule", default=None,
                     help="constant, mimicnorm-cifar (default), mimicnorm-imagenet, msr-resnet110, "
                          "fixup-cifar, pn-cifar; milestones rescaled to --epochs")
    opt.add_argument("--milestones", type=_epoch_list, default=None,
                     help="x0.1 at these epochs, e.g. 100,150 (replaces the schedule's, not rescaled)")
    opt.add_argument("--warmup-epochs", type=nonnegative_float, default=None,
                     help="linear warm-up from 0 (replaces the schedule's)")
    opt.add_argument("--momentum", type=number(0.0, 1.0, open_high=True), default=None,
                     help="default 0.9")
    opt.add_argument("--weight-decay", type=nonnegative_float, default=None, help="default 5e-4")
    opt.add_argument("--scalar-lr-factor", type=positive_float, default=None,
                     help="learning-rate factor of biases, scalars and affine parameters "
                          "(Fixup's code: 0.1; default 1)")
    opt.add_argument("--seed", type=seed, default=0)
    opt.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                     help="random crop (pad 4, or 1 below 16 px) + flip")
    opt.add_argument("--rotate", type=nonnegative_float, default=None,
                     help="random rotation within +-DEG degrees after crop and flip (authors: 15)")
    train.add_argument("--metrics", type=output_file(), default=None,
                       help="append per-epoch JSON lines to this file")
    add_json(train)
    train.set_defaults(run=_train)

    memory = subparsers.add_parser("memory", help="peak memory of one jitted training step, every scheme")
    _add_model_arguments(memory, norm=False)
    memory.add_argument("--norms", default="all",
                        help="comma-separated registry schemes (default: all)")
    memory.add_argument("--input-size", type=positive_int, default=32,
                        help="input side in pixels (default 32; MimicNorm's ImageNet rows: 224)")
    memory.add_argument("--batch", type=positive_int, default=None,
                        help="batch size (default: MimicNorm's for this model and input size, "
                             "else 128)")
    memory.add_argument("--classes", type=integer(2), default=None,
                        help="logits (default: 100 at CIFAR sizes, 1000 from 128 px)")
    add_json(memory)
    memory.set_defaults(run=_memory)


def _fcnn_shape(args, model) -> tuple[int, int]:
    """``--depth``/``--width`` of the FCNN; given with another model they are errors."""
    from kernelnorm._errors import KernelnormInputError
    from kernelnorm.nn import MODEL_NAMES

    if model != "fcnn" and model in MODEL_NAMES:  # unknown models: build_network says so
        for flag, value in (("--depth", args.depth), ("--width", args.width)):
            if value is not None:
                raise KernelnormInputError(flag, f"shapes the fcnn only; {model} is scaled by "
                                                 "--width-factor")
    return (FCNN_DEPTH if args.depth is None else args.depth,
            FCNN_WIDTH if args.width is None else args.width)


def _train(args):
    from kernelnorm._costs import check_network_request
    from kernelnorm.data import load_image_dataset
    from kernelnorm.nn import build_network
    from kernelnorm.train import TrainConfig, images, resolve_run, train

    run = resolve_run(args.preset, norm=args.norm, model=args.model, scheme=_scheme_args(args),
                      model_options=_model_args(args),
                      train={"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                             "schedule": args.schedule, "momentum": args.momentum,
                             "weight_decay": args.weight_decay, "augment": args.augment,
                             "rotation": args.rotate, "milestones": args.milestones,
                             "warmup_epochs": args.warmup_epochs,
                             "scalar_lr_factor": args.scalar_lr_factor})
    depth, width = _fcnn_shape(args, run["model"])
    dataset = load_image_dataset(args.data, seed=args.seed)
    data = images(dataset)
    n_classes = int(max(data[1].max(), data[3].max() if len(data[3]) else 0)) + 1
    check_network_request(run["model"], input_shape=data[0].shape[1:], n_classes=n_classes,
                          batch=min(run["train"].get("batch_size") or 128, len(data[0])),
                          depth=depth, width=width, width_factor=args.width_factor,
                          classes_argument="--data")
    network = build_network(run["model"], run["norm"], input_shape=data[0].shape[1:],
                            n_classes=n_classes, depth=depth, width=width,
                            width_factor=args.width_factor, activation=args.activation,
                            **run["model_options"], **run["scheme"])
    settings = dict(run["train"])
    augment = settings.pop("augment")
    side = data[0].shape[1]
    config = TrainConfig(**settings, seed=args.seed, flip=augment,
                         crop_padding=(4 if side >= 16 else 1) if augment else 0)
    info = {"model": run["model"], "norm": run["norm"], "data": dataset.name, "lr": config.lr,
            "seed": args.seed, "preset": args.preset}
    result = train(network, data, config, metrics_path=args.metrics, run_info=info)
    rows = [{"epoch": r["epoch"], "train_loss": r.get("train_loss"), "train_acc": r.get("train_accuracy"),
             "test_loss": r.get("test_loss"), "test_acc": r.get("test_accuracy"), "lr": r.get("lr")}
            for r in result.history if not r.get("diverged")]
    if result.diverged:
        status = f"diverged at step {result.diverged_step} (the loss became non-finite)"
    elif len(data[3]):
        status = f"final test accuracy {result.final['test_accuracy']:.4f}"
    else:
        status = f"final train accuracy {result.final['train_accuracy']:.4f} ({dataset.name} has no test split)"
    text = (f"{run['model']} / {run['norm']} on {dataset.name}: {status} ({result.seconds:.1f} s)\n"
            + format_table(rows, ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"], digits=4))
    emit(args, {"history": result.history, "diverged": result.diverged,
                "diverged_step": result.diverged_step, "seconds": result.seconds,
                "settings": {**run["train"], "model": run["model"], "norm": run["norm"]}}, text,
         allow_nan=True)  # a diverged run reports its non-finite loss as "diverged"


def _memory(args):
    from kernelnorm._costs import check_network_request
    from kernelnorm._errors import KernelnormInputError
    from kernelnorm._registry import scheme_names
    from kernelnorm.cli._common import progress
    from kernelnorm.nn._models import IMAGENET_STEM_MIN_SIDE
    from kernelnorm.train import memory_settings, memory_table, paper_memory

    norms = list(scheme_names()) if args.norms == "all" else [n.strip() for n in args.norms.split(",") if n.strip()]
    if not norms:
        raise KernelnormInputError("--norms", "names no scheme")
    model, shared, per_scheme = memory_settings(
        args.preset, args.model or (None if args.preset else "resnet18"),
        scheme=_scheme_args(args), model_options=_model_args(args))
    side = args.input_size
    paper = paper_memory(model, side)
    batch = args.batch or (paper.batch if paper else 128)
    classes = args.classes or (1000 if side >= IMAGENET_STEM_MIN_SIDE else 100)
    depth, width = _fcnn_shape(args, model)
    check_network_request(model, input_shape=(side, side, 3), n_classes=classes, batch=batch,
                          depth=depth, width=width, width_factor=args.width_factor,
                          batch_argument="--batch")
    rows = memory_table(model, norms, batch=batch, n_classes=classes, input_shape=(side, side, 3),
                        width_factor=args.width_factor, depth=depth, width=width,
                        activation=args.activation, per_scheme=per_scheme,
                        progress=lambda v: progress(v, total=len(v), desc="compile"), **shared)
    for row in rows:
        row["paper/bn"] = paper.ratio(row["scheme"]) if paper else None
    preset = f", preset {args.preset}" if args.preset else ""
    text = (f"peak memory of one jitted SGD training step, {model}, batch {batch}, {side}x{side}x3, "
            f"{classes} classes, float32 (XLA memory analysis){preset}\n"
            + format_table(rows, ["scheme", "peak_MiB", "temp_MiB", "params", "/plain", "/bn",
                                  "paper/bn"], digits=5)
            + _paper_line(rows, paper, batch, classes))
    emit(args, {"model": model, "batch": batch, "input_size": side, "classes": classes,
                "preset": args.preset, "paper": None if paper is None else
                {"source": paper.source, "batch": paper.batch, "megabytes": paper.megabytes},
                "rows": rows}, text)


def _paper_line(rows, paper, batch, classes) -> str:
    if paper is None:
        return "\n(no MimicNorm memory row for this model and input size)"
    ours = {r["scheme"]: r["/bn"] for r in rows}
    parts = [f"{name}/BN {ours[name]:.3f} (paper {paper.ratio(name):.3f})"
             for name in ("mimicnorm", "fixup", "plain") if name in ours and ours[name] is not None
             and paper.ratio(name) is not None]
    setup = "" if (batch, classes) == (paper.batch, paper.n_classes) else \
        f"; the paper measured batch {paper.batch}, {paper.n_classes} classes"
    return f"\n{paper.source}: " + ("; ".join(parts) or "no shared scheme with BN") + setup
