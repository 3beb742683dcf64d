"""``kernelnorm train`` and ``kernelnorm memory`` end to end (small sizes)."""

import json

import pytest

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


def test_memory_command_prints_ratios_of_the_peaks_it_reports(capsys):
    """The ratio columns are the printed peaks divided by plain's and BN's, and they say what
    MimicNorm claims: BN's extra activations cost memory (MimicNorm / BN < 1), the projected
    weight mean costs none (MimicNorm / plain within 2%: only the last BN's (B, C) buffers
    differ), and centring inside the graph costs more than projecting after the step."""
    args = ["memory", "--model", "vgg-small", "--width-factor", "0.25", "--batch", "8",
            "--norms", "none,bn,mimicnorm"]
    assert main(args + ["--json"]) == 0
    rows = {row["scheme"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert set(rows) == {"plain", "bn", "mimicnorm", "mimicnorm[graph-wm]"}
    for row in rows.values():
        assert row["/plain"] == row["peak"] / rows["plain"]["peak"]
        assert row["/bn"] == row["peak"] / rows["bn"]["peak"]
    assert rows["mimicnorm"]["/bn"] < 1.0 < rows["bn"]["/plain"]
    assert abs(rows["mimicnorm"]["/plain"] - 1.0) < 0.02
    assert rows["mimicnorm[graph-wm]"]["peak"] > rows["mimicnorm"]["peak"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    printed = {line.split()[0]: dict(zip(header, line.split())) for line in lines[3:3 + len(rows)]}
    for name, row in rows.items():
        assert float(printed[name]["/plain"]) == pytest.approx(row["/plain"], rel=1e-4)
        assert float(printed[name]["/bn"]) == pytest.approx(row["/bn"], rel=1e-4)
        assert printed[name]["paper/bn"] == "-"  # MimicNorm has no vgg-small row
    assert lines[-1] == "(no MimicNorm memory row for this model and input size)"


def test_bad_scheme_is_a_one_line_error_exit_2(capsys):
    assert main(["train", "--model", "fcnn", "--norm", "batchy", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown scheme 'batchy'" in err


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


def test_model_help_lists_every_model_and_the_parser_imports_no_jax(capsys):
    import subprocess
    import sys

    from kernelnorm.nn import MODEL_NAMES

    assert main(["train", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    listed = help_text.split("--model MODEL ")[1].split(" (default")[0].split(", ")
    assert sorted(listed) == sorted(MODEL_NAMES)
    code = ("import sys; from kernelnorm.cli import build_parser; build_parser(); "
            "assert not any(m == 'jax' or m.startswith('jax.') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
