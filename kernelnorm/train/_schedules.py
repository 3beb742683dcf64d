"""Learning-rate schedules: linear warm-up + multistep decay, with the papers' protocols as presets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernelnorm._errors import KernelnormInputError


@dataclass(frozen=True)
class SchedulePreset:
    """A published protocol: warm-up epochs, decay milestones (epochs of ``epochs`` in total),
    decay factor, and the paper's learning rate / weight decay for reference."""

    warmup_epochs: float
    milestones: tuple[float, ...]
    epochs: int
    gamma: float = 0.1
    lr: float = 0.1
    weight_decay: float = 5e-4
    source: str = ""


PRESETS = {
    "constant": SchedulePreset(0, (), 1, source="no warm-up, no decay"),
    # MimicNorm §5, CIFAR-100: warm-up 2 epochs 0 -> 0.1, x0.1 at [80, 110, 135]; the paper does
    # not state the total, the authors' CIFAR code trains 150 epochs (ENDEPOCH = 150).
    "mimicnorm-cifar": SchedulePreset(2, (80, 110, 135), 150, source="MimicNorm §5 CIFAR-100"),
    # MimicNorm §5, ImageNet: 90 epochs, 2 warm-up, decay at [30, 60, 85], wd 1e-4.
    "mimicnorm-imagenet": SchedulePreset(2, (30, 60, 85), 90, weight_decay=1e-4,
                                         source="MimicNorm §5 ImageNet"),
    # Mean Shift Rejection §4 (He et al. protocol): 200 epochs, x0.1 at 100 and 150, LR 0.4 for
    # CZMIG (0.1 for BN), LUMA / L2 weight 5e-4.
    "msr-resnet110": SchedulePreset(0, (100, 150), 200, lr=0.4, source="Mean Shift Rejection §4"),
    # Fixup's CIFAR code (Zhang et al. 2019): 200 epochs, x0.1 at 100 and 150, wd 1e-4.
    "fixup-cifar": SchedulePreset(0, (100, 150), 200, weight_decay=1e-4, source="Fixup §4.1 code"),
    # Proxy Norm §A.1, CIFAR ResNets: 160 epochs, 5 warm-up epochs, decay at 80 and 120 (the
    # factor is lost in our copy of the text; 0.1 assumed).
    "pn-cifar": SchedulePreset(5, (80, 120), 160, source="Proxy Norm Appendix A.1 (CIFAR)"),
}


def warmup_multistep(lr: float, steps_per_epoch: int, *, warmup_epochs: float = 0.0,
                     milestones=(), gamma: float = 0.1):
    """``lr(t) = lr * min(1, t / T_w) * gamma^{#milestones passed}``, ``t`` in steps, milestones
    and warm-up in epochs (warm-up from 0, as MimicNorm §5). Returns an optax-compatible
    ``schedule(step)``. Example: ``warmup_multistep(0.1, 10, milestones=(2,))(25) == 0.01``."""
    import jax.numpy as jnp

    warmup_steps = float(warmup_epochs) * steps_per_epoch
    bounds = jnp.asarray([m * steps_per_epoch for m in milestones], dtype=jnp.float32)

    def schedule(step):
        step = jnp.asarray(step, jnp.float32)
        ramp = jnp.minimum(1.0, (step + 1.0) / warmup_steps) if warmup_steps > 0 else 1.0
        passed = (step >= bounds).sum() if bounds.size else 0
        return lr * ramp * gamma**passed

    return schedule


def preset_schedule(name: str, lr: float, steps_per_epoch: int, epochs: int, *,
                    milestones=None, warmup_epochs: float | None = None):
    """Preset ``name`` rescaled to ``epochs``: milestones keep their fraction of the protocol.

    ``milestones`` (epochs, taken as they are, not rescaled) and ``warmup_epochs`` replace the
    preset's. Example: ``preset_schedule("constant", 0.4, 391, 200, milestones=(100, 150))``
    is the Mean Shift Rejection protocol at full length."""
    if name not in PRESETS:
        raise KernelnormInputError("--schedule", f"unknown schedule {name!r} (use {', '.join(PRESETS)})")
    preset = PRESETS[name]
    if milestones is None:
        scale = epochs / preset.epochs if preset.milestones else 1.0
        milestones = tuple(float(np.round(m * scale, 6)) for m in preset.milestones)
    else:
        milestones = tuple(sorted(float(m) for m in milestones))
        if any(not (0 < m <= epochs) for m in milestones):
            raise KernelnormInputError("--milestones", f"must lie in (0, --epochs = {epochs}], got {milestones}")
    warmup = preset.warmup_epochs if warmup_epochs is None else float(warmup_epochs)
    if warmup < 0:
        raise KernelnormInputError("--warmup-epochs", f"must be >= 0, got {warmup}")
    warmup = min(warmup, max(epochs - 1, 0)) if warmup else 0.0
    return warmup_multistep(lr, steps_per_epoch, warmup_epochs=warmup, milestones=milestones,
                            gamma=preset.gamma)
