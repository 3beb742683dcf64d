"""Lemma 1 (MimicNorm) at finite width, n_i != n_o: the factor is (n_i-1)/n_i, not (n_o-1)/n_o.

Tolerance: the estimate is a mean of ``draws`` iid samples, so its standard error is
``s/sqrt(draws)``; we accept the main-text form within 4 standard errors (two-sided false-alarm
probability 6e-5) and require the supplement's form to be more than 8 standard errors away.
With 20000 draws and widths 4 vs 256 the two forms differ by ~23 standard errors.
"""

import pytest

from kernelnorm.montecarlo import lemma1_check


@pytest.mark.parametrize("n_in, n_out", [(4, 256), (256, 4)])
def test_lemma1_width_factor_is_the_input_width(n_in, n_out):
    check = lemma1_check(n_in, n_out, 0.5, draws=20000, seed=3)
    assert abs(check.measured.z_score(check.main_text)) <= 4.0
    assert abs(check.measured.z_score(check.supplement)) >= 8.0
    assert abs(check.factor.mean - (n_in - 1) / n_in) <= 4.0 * check.factor.standard_error


def test_lemma1_holds_at_negative_correlation_too():
    check = lemma1_check(6, 48, -0.7, draws=20000, seed=4)
    assert abs(check.measured.z_score(check.main_text)) <= 4.0
    assert abs(check.measured.z_score(check.supplement)) >= 4.0
