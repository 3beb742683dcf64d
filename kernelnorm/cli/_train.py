"""Training commands: ``train`` (one run, JSON-lines metrics) and ``memory`` (peak memory of one
jitted training step per normalisation scheme, from XLA's compiled memory analysis)."""

from __future__ import annotations

from kernelnorm.cli._common import (
    add_json,
    add_norm_argument,
    emit,
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

MODELS = "fcnn, vgg-small, vgg11, vgg16, resnet8, resnet20, resnet56, resnet110, resnet18"


def _scheme_overrides(args) -> dict:
    return {"residual_scalar": args.residual_scalar, "weight_mean_mode": args.weight_mean_mode,
            "zmg": args.zmg, "init": args.init, "groups": args.groups,
            "weight_mean_rule": args.wm_rule}


def _add_model_arguments(parser, *, norm: bool = True) -> None:
    parser.add_argument("--model", default="resnet20", help=f"{MODELS} (default: %(default)s)")
    if norm:
        add_norm_argument(parser, default="mimicnorm")
    parser.add_argument("--activation", default="relu",
                        help="relu, erf, tanh, gelu, silu, identity; the init gains follow it "
                             "(default: %(default)s)")
    parser.add_argument("--width-factor", type=positive_float, default=1.0,
                        help="scale every CNN channel count (default: %(default)s)")
    parser.add_argument("--depth", type=positive_int, default=None,
                        help=f"FCNN hidden layers (default: {FCNN_DEPTH})")
    parser.add_argument("--width", type=integer(2), default=None,
                        help=f"FCNN width (default: {FCNN_WIDTH})")
    parser.add_argument("--residual-scalar", choices=("paper", "code", "zero", "none"), default=None,
                        help="residual-branch scalar init: paper 1/sqrt(l), code 1.2^k/l, zero, or none")
    parser.add_argument("--weight-mean-mode", choices=("project", "graph"), default=None,
                        help="weight mean as a projection after the step (default) or in the graph")
    parser.add_argument("--zmg", type=nonnegative_float, default=None, help="CZMG factor z (czmig: 0.85)")
    parser.add_argument("--init", choices=("stable", "he"), default=None,
                        help="kernel init: stable (q* = 1 for the layer as it is: Theorem 3 for "
                             "weight mean; default) or he (the plain layer's, for every layer)")
    parser.add_argument("--wm-rule", choices=("paper", "authors-code"), default=None,
                        help="layers that get the weight transform: paper (every hidden layer, "
                             "depthwise skipped; default) or authors-code (fan-in > 50, not the "
                             "classifier)")
    parser.add_argument("--groups", type=positive_int, default=None, help="GN groups (default 8)")


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a network on a data set with one normalisation scheme")
    _add_model_arguments(train)
    train.add_argument("--data", default="digits",
                       help="digits, mnist1d, mnist:DIR, cifar10:DIR, cifar100:DIR (default: %(default)s)")
    train.add_argument("--epochs", type=integer(1, 100_000), default=5)
    train.add_argument("--lr", type=positive_float, default=0.1)
    train.add_argument("--batch-size", type=positive_int, default=128)
    train.add_argument("--schedule", default="mimicnorm-cifar",
                       help="constant, mimicnorm-cifar, mimicnorm-imagenet, msr-resnet110 (default: %(default)s)")
    train.add_argument("--momentum", type=number(0.0, 1.0, open_high=True), default=0.9)
    train.add_argument("--weight-decay", type=nonnegative_float, default=5e-4)
    train.add_argument("--seed", type=seed, default=0)
    train.add_argument("--augment", action="store_true", help="random crop (pad 4, or 1 below 16 px) + flip")
    train.add_argument("--metrics", type=output_file(), default=None,
                       help="append per-epoch JSON lines to this file")
    add_json(train)
    train.set_defaults(run=_train)

    memory = subparsers.add_parser("memory", help="peak memory of one jitted training step, every scheme")
    _add_model_arguments(memory, norm=False)
    memory.add_argument("--norms", default="all",
                        help="comma-separated registry schemes (default: all)")
    memory.add_argument("--batch", type=positive_int, default=128)
    memory.add_argument("--classes", type=integer(2), default=100, help="logits (default: 100, CIFAR-100)")
    add_json(memory)
    memory.set_defaults(run=_memory, model="resnet18")


def _fcnn_shape(args) -> tuple[int, int]:
    """``--depth``/``--width`` of the FCNN; given with another model they are errors."""
    from kernelnorm.nn import MODEL_NAMES

    if args.model != "fcnn" and args.model in MODEL_NAMES:  # unknown models: build_network says so
        for flag, value in (("--depth", args.depth), ("--width", args.width)):
            if value is not None:
                from kernelnorm._errors import KernelnormInputError

                raise KernelnormInputError(flag, f"shapes the fcnn only; {args.model} is scaled by "
                                                 "--width-factor")
    return (FCNN_DEPTH if args.depth is None else args.depth,
            FCNN_WIDTH if args.width is None else args.width)


def _train(args):
    from kernelnorm._costs import check_network_request
    from kernelnorm.data import load_image_dataset
    from kernelnorm.nn import build_network
    from kernelnorm.train import TrainConfig, images, train

    depth, width = _fcnn_shape(args)
    dataset = load_image_dataset(args.data, seed=args.seed)
    data = images(dataset)
    n_classes = int(max(data[1].max(), data[3].max() if len(data[3]) else 0)) + 1
    check_network_request(args.model, input_shape=data[0].shape[1:], n_classes=n_classes,
                          batch=min(args.batch_size, len(data[0])), depth=depth, width=width,
                          width_factor=args.width_factor, classes_argument="--data")
    network = build_network(args.model, args.norm, input_shape=data[0].shape[1:], n_classes=n_classes,
                            depth=depth, width=width, width_factor=args.width_factor,
                            activation=args.activation, **_scheme_overrides(args))
    side = data[0].shape[1]
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         schedule=args.schedule, momentum=args.momentum, weight_decay=args.weight_decay,
                         seed=args.seed, crop_padding=(4 if side >= 16 else 1) if args.augment else 0,
                         flip=args.augment)
    info = {"model": args.model, "norm": args.norm, "data": dataset.name, "lr": args.lr, "seed": args.seed}
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
    text = (f"{args.model} / {args.norm} on {dataset.name}: {status} ({result.seconds:.1f} s)\n"
            + format_table(rows, ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"], digits=4))
    emit(args, {"history": result.history, "diverged": result.diverged,
                "diverged_step": result.diverged_step, "seconds": result.seconds}, text,
         allow_nan=True)  # a diverged run reports its non-finite loss as "diverged"


def _memory(args):
    from kernelnorm._errors import KernelnormInputError
    from kernelnorm._registry import scheme_names
    from kernelnorm.cli._common import progress
    from kernelnorm.train import memory_table

    from kernelnorm._costs import check_network_request

    norms = list(scheme_names()) if args.norms == "all" else [n.strip() for n in args.norms.split(",") if n.strip()]
    if not norms:
        raise KernelnormInputError("--norms", "names no scheme")
    depth, width = _fcnn_shape(args)
    check_network_request(args.model, input_shape=(32, 32, 3), n_classes=args.classes,
                          batch=args.batch, depth=depth, width=width,
                          width_factor=args.width_factor, batch_argument="--batch")
    overrides = {k: v for k, v in _scheme_overrides(args).items() if v is not None}
    rows = memory_table(args.model, norms, batch=args.batch, n_classes=args.classes,
                        width_factor=args.width_factor, depth=depth, width=width,
                        activation=args.activation,
                        progress=lambda v: progress(v, total=len(v), desc="compile"), **overrides)
    text = (f"peak memory of one jitted SGD training step, {args.model}, batch {args.batch}, 32x32x3, "
            f"{args.classes} classes, float32 (XLA memory analysis)\n"
            + format_table(rows, ["scheme", "peak_MiB", "temp_MiB", "params", "/plain", "/bn"], digits=5))
    emit(args, {"model": args.model, "batch": args.batch, "rows": rows}, text)
