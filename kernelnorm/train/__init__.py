"""Training of the :mod:`kernelnorm.nn` networks: optax SGD, schedules, recipes, metrics, memory."""

from kernelnorm.train._loop import (
    TrainConfig,
    TrainResult,
    augment,
    evaluate,
    images,
    make_train_step,
    rotate,
    train,
)
from kernelnorm.train._memory import (
    PAPER_MEMORY,
    PaperMemory,
    memory_settings,
    memory_table,
    paper_memory,
    train_step_memory,
)
from kernelnorm.train._metrics import append_jsonl, read_jsonl
from kernelnorm.train._optim import (
    authors_zero_mean_gradient,
    decay_mask,
    luma_loss,
    make_optimizer,
    project_weight_mean,
    zero_mean_gradient_transform,
)
from kernelnorm._registry import RECIPES, TRAIN_DEFAULTS, Recipe, get_recipe, resolve_run
from kernelnorm.train._schedules import PRESETS, SchedulePreset, preset_schedule, warmup_multistep

__all__ = [
    "PAPER_MEMORY", "PRESETS", "PaperMemory", "RECIPES", "Recipe", "SchedulePreset",
    "TRAIN_DEFAULTS", "TrainConfig", "TrainResult", "append_jsonl", "augment",
    "authors_zero_mean_gradient", "decay_mask", "evaluate", "get_recipe", "images", "luma_loss",
    "make_optimizer", "make_train_step", "memory_settings", "memory_table", "paper_memory", "preset_schedule",
    "project_weight_mean", "read_jsonl", "resolve_run", "rotate", "train", "train_step_memory",
    "warmup_multistep", "zero_mean_gradient_transform",
]

# theory -> training: linearised NTK dynamics of dense-block networks; compiled-once sweeps
from kernelnorm.train._sweep import train_sweep  # noqa: E402
from kernelnorm.train._mean_shift import common_mode_gain, conv_inputs, mean_shift_profile  # noqa: E402
from kernelnorm.train._dynamics import (  # noqa: E402
    DenseNetwork,
    GapStatistics,
    gap_statistics,
    hanin_nica_scale,
    linearised_loss,
    readout_block,
    readout_kernels,
    stable_learning_rate,
    train_full_batch,
)

__all__ += [
    "common_mode_gain", "conv_inputs", "mean_shift_profile",
    "DenseNetwork", "GapStatistics", "gap_statistics", "hanin_nica_scale", "linearised_loss",
    "readout_block", "readout_kernels", "stable_learning_rate", "train_full_batch", "train_sweep",
]
