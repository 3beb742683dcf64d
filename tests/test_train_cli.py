"""``kernelnorm train`` and ``kernelnorm memory`` end to end (small sizes)."""

import json

from kernelnorm.cli import main
from kernelnorm.train import read_jsonl


def test_train_command_writes_per_epoch_metrics_and_learns(tmp_path, capsys):
    metrics = tmp_path / "run.jsonl"
    code = main(["train", "--model", "fcnn", "--norm", "mimicnorm", "--data", "digits", "--epochs", "2",
                 "--lr", "0.1", "--batch-size", "64", "--metrics", str(metrics), "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    records = read_jsonl(str(metrics))
    assert [r["epoch"] for r in records] == [1, 2] and records[-1]["norm"] == "mimicnorm"
    assert payload["diverged"] is False
    assert records[-1]["test_accuracy"] > 0.1 + 6 * (0.09 / 359) ** 0.5  # chance + 6 binomial sd


def test_memory_command_prints_a_table_with_ratios(capsys):
    code = main(["memory", "--model", "vgg-small", "--width-factor", "0.25", "--batch", "8",
                 "--norms", "none,bn,mimicnorm"])
    assert code == 0
    out = capsys.readouterr().out
    for label in ("none", "bn", "mimicnorm", "mimicnorm[graph-wm]", "/none", "/bn"):
        assert label in out


def test_bad_scheme_is_a_one_line_error_exit_2(capsys):
    assert main(["train", "--model", "fcnn", "--norm", "batchnorm", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scheme 'batchnorm'" in err


def test_train_command_reads_cifar_binary_files_with_augmentation(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    for name, n in [*((f"data_batch_{i}.bin", 8) for i in range(1, 6)), ("test_batch.bin", 8)]:
        labels = np.arange(n, dtype=np.uint8)[:, None] % 10
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        (tmp_path / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())
    code = main(["train", "--model", "fcnn", "--norm", "bn", "--data", f"cifar10:{tmp_path}", "--epochs", "1",
                 "--batch-size", "16", "--augment", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["diverged"] is False and payload["history"][0]["step"] == 40 // 16
