"""``kernelnorm ntk --arch conv`` and ``kernelnorm power --theory``: values, cost stated first,
refusals in one line (exit 2)."""

import json

import numpy as np
import pytest

from kernelnorm.cli import main


def _exit_code(args):
    try:
        return main(args)
    except SystemExit as exit_:
        return exit_.code


def test_ntk_conv_gives_kappa_of_the_cntk_and_states_the_cost_first(capsys):
    """kappa equals the condition number of kernelnorm.conv's NTK on the same images; the
    estimate (pairs, memory, time) is printed on stderr before the run."""
    from kernelnorm.conv import conv_net
    from kernelnorm.data import load_digits, normalise_rows

    assert main(["ntk", "--arch", "conv", "--norm", "czmig", "--depth", "3", "--max-points", "12",
                 "--padding", "circular", "--json"]) == 0
    out = capsys.readouterr()
    assert "input pairs" in out.err and "MiB" in out.err
    payload = json.loads(out.out)
    x = normalise_rows(load_digits().x[:12]).reshape(12, 8, 8, 1)
    ntk = conv_net("czmig", 3, padding="circular").kernels(x).ntk
    values = np.linalg.eigvalsh(ntk)
    assert payload["kappa"] == pytest.approx(values[-1] / values[0], rel=1e-9)
    assert payload["m"] == 12 and payload["image_shape"] == [8, 8, 1]


def test_ntk_conv_upsamples_digits():
    assert main(["ntk", "--arch", "conv", "--norm", "ln", "--depth", "2", "--max-points", "6",
                 "--resolution", "16", "--readout", "flatten"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--norm", "bn"], "batch statistics"),
    (["--norm", "mimicnorm"], "use --norm weight-mean"),
    (["--norm", "plain", "--max-memory", "0.00001"], "argument --max-memory"),
    (["--norm", "plain", "--resolution", "12"], "argument --resolution"),
    (["--norm", "plain", "--layout", "3,M,3"], "max pooling"),
    (["--norm", "plain", "--width", "64"], "argument --width"),
    (["--norm", "plain", "--data", "sphere:12"], "not an image data set"),
])
def test_ntk_conv_bad_input_is_one_line_and_exit_2(args, message, capsys):
    assert _exit_code(["ntk", "--arch", "conv", "--depth", "3", "--max-points", "8", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err


def test_dense_ntk_still_refuses_schemes_without_a_dense_kernel(capsys):
    assert _exit_code(["ntk", "--norm", "czmig", "--depth", "3", "--data", "sphere:8"]) == 2
    assert "no infinite-width dense kernel" in capsys.readouterr().err


def test_power_theory_table_json_and_overlay_plot(tmp_path, capsys):
    """--theory adds the prediction next to every measured column, the band check, and the
    dotted overlay on the plot; the JSON carries the prediction and the agreement."""
    plot = tmp_path / "wm.png"
    args = ["power", "--norm", "ln", "--depth", "3", "--width", "32", "--realisations", "2",
            "--resolution", "8", "--inputs", "4", "--theory", "--plot", str(plot)]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "input pairs" in out.err
    assert "in band" in out.out and "infinite-width prediction" in out.out
    assert plot.exists() and plot.stat().st_size > 0
    assert main(args + ["--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    shares = np.asarray(payload["theory"]["shares"])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-12)  # LN: Proposition 1
    assert 0.0 <= payload["agreement"]["fraction"] <= 1.0


def test_power_theory_refuses_schemes_without_a_limit(capsys):
    assert _exit_code(["power", "--norm", "bn", "--depth", "2", "--width", "8", "--realisations",
                       "1", "--resolution", "8", "--inputs", "2", "--theory"]) == 2
    err = capsys.readouterr().err.strip()
    assert "argument --theory" in err and "batch statistics" in err and "\n" not in err
