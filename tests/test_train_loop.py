"""Training machinery: schedules, determinism, metrics files, augmentation, memory accounting."""

import json

import jax
import jax.numpy as jnp
import numpy as np

from kernelnorm.data import load_digits
from kernelnorm.nn import build_network
from kernelnorm.train import (
    PRESETS,
    TrainConfig,
    append_jsonl,
    augment,
    images,
    preset_schedule,
    read_jsonl,
    train,
    train_step_memory,
    warmup_multistep,
)


def test_warmup_ramps_linearly_from_zero_and_milestones_divide_by_ten():
    schedule = warmup_multistep(0.1, 10, warmup_epochs=2, milestones=(3, 5), gamma=0.1)
    lrs = np.array([float(schedule(t)) for t in range(60)])
    np.testing.assert_allclose(lrs[:20], 0.1 * np.arange(1, 21) / 20, rtol=1e-6)
    np.testing.assert_allclose(lrs[20:30], 0.1, rtol=1e-6)
    np.testing.assert_allclose(lrs[30:50], 0.01, rtol=1e-6)
    np.testing.assert_allclose(lrs[50:], 0.001, rtol=1e-6)


def test_presets_rescale_milestones_to_the_run_length():
    """MSR: x0.1 at epochs 100 and 150 of 200 -> at 10 and 15 of 20."""
    schedule = preset_schedule("msr-resnet110", 0.4, 1, 20)
    assert PRESETS["msr-resnet110"].milestones == (100, 150)
    lrs = [float(schedule(t)) for t in (9, 10, 14, 15)]
    np.testing.assert_allclose(lrs, [0.4, 0.04, 0.04, 0.004], rtol=1e-6)


def test_same_seed_same_numbers_different_seed_different_numbers():
    data = images(load_digits())
    net = build_network("fcnn", "mimicnorm", input_shape=(8, 8, 1), depth=2, width=32)
    runs = [train(net, data, TrainConfig(epochs=1, batch_size=64, seed=s, schedule="constant")) for s in (3, 3, 4)]
    key = lambda r: (r.final["train_loss"], r.final["test_loss"])  # noqa: E731
    assert key(runs[0]) == key(runs[1])
    assert key(runs[0]) != key(runs[2])


def test_metrics_lines_append_whole_records_and_a_torn_line_is_skipped(tmp_path):
    path = str(tmp_path / "sub" / "m.jsonl")
    append_jsonl(path, {"epoch": 1, "loss": float("nan")})
    append_jsonl(path, {"epoch": 2, "loss": 0.5})
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"epoch": 3, "lo')  # a writer killed mid-line
    records = read_jsonl(path)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[0]["loss"] == "nan"
    with open(path, encoding="utf-8") as handle:
        assert all(json.loads(line) for line in handle.readlines()[:2])


def test_crop_with_zero_padding_shifts_images_and_flip_mirrors_them():
    x = jnp.arange(2 * 5 * 5 * 1, dtype=jnp.float64).reshape(2, 5, 5, 1) + 1.0
    flipped = augment(jax.random.PRNGKey(0), x, padding=0, flip=True)
    for a, b in zip(np.asarray(x), np.asarray(flipped)):
        assert np.array_equal(a, b) or np.array_equal(a[:, ::-1], b)
    cropped = np.asarray(augment(jax.random.PRNGKey(1), x, padding=1, flip=False))
    assert cropped.shape == x.shape
    for a, b in zip(np.asarray(x), cropped):  # every crop is x shifted by (dy, dx) in {-1,0,1}^2
        padded = np.pad(a, ((1, 1), (1, 1), (0, 0)))
        assert any(np.array_equal(padded[dy:dy + 5, dx:dx + 5], b) for dy in range(3) for dx in range(3))


def test_projected_weight_mean_costs_no_memory_and_bn_costs_some():
    """With the projection after the step (Appendix C) the training graph of weight mean *is*
    the NoNorm graph, so XLA assigns identical buffers; BN stores its normalised activations."""
    peaks = {}
    for label, norm, extra in (("none", "none", {}), ("wm", "weight-mean", {}),
                               ("wm-graph", "weight-mean", {"weight_mean_mode": "graph"}), ("bn", "bn", {})):
        net = build_network("vgg-small", norm, input_shape=(16, 16, 3), width_factor=0.5, **extra)
        peaks[label] = train_step_memory(net, batch=32)["peak"]
    assert peaks["wm"] == peaks["none"]
    assert peaks["wm-graph"] >= peaks["wm"]
    assert peaks["bn"] > peaks["none"]
