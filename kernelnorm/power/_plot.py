"""Stacked power plots (Proxy Norm Figure 2): the four term shares of ``y`` against depth."""

from __future__ import annotations

from kernelnorm.io import save_figure
from kernelnorm.power._decomposition import TERMS

#: One colour per term, dataset scale to pixel scale.
COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#2ca02c")
LEGEND = (r"$\mu_c^2$ (channel mean: collapse)", r"$\sigma_c(\mu_{x,c})^2$",
          r"$\mu_c(\sigma_{x,c})^2$", r"$\sigma_c(\sigma_{x,c})^2$")


def draw_power_plot(profiles, path: str, *, title: str | None = None, columns: int = 3,
                    theory=None) -> None:
    """One stacked-area panel per profile; written atomically to ``path`` (Agg backend).

    ``profiles``: dicts as produced by ``PowerProfile.as_dict()`` (or loaded from its JSON).
    Each panel stacks the mean shares of the four terms (bottom: ``mu_c^2``) against depth and
    draws the channel-wise linearity ``R^2`` of the activation step as a dashed line.
    ``theory``: optional dicts of ``PowerTheory.as_dict()`` (matched to panels by ``norm``);
    their cumulative shares (the boundaries between the stacked terms) are overlaid as dotted
    black lines: the infinite-width prediction.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len(profiles)
    columns = min(columns, count)
    rows = -(-count // columns)
    legend_columns = 5 if columns >= 3 else 2
    legend_height = 0.3 * -(-5 // legend_columns)  # inches
    height = 2.9 * rows + legend_height + (0.3 if title else 0.0)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, height), squeeze=False,
                             sharey=True)
    predictions = {t["norm"]: t for t in (theory or [])}
    overlay = None
    for ax, profile in zip(axes.flat, profiles):
        layers = profile["layers"]
        depth = range(1, profile["depth"] + 1)
        stacks = ax.stackplot(depth, *(layers[t]["mean"] for t in TERMS), colors=COLOURS,
                              alpha=0.85)
        line, = ax.plot(depth, layers["linearity"]["mean"], "k--", lw=1.2)
        if profile["norm"] in predictions:
            overlay = _overlay(ax, predictions[profile["norm"]])
        ax.set_title(f"{profile['label']} (width {profile['width']}, "
                     f"{profile['realisations']} nets)", fontsize=9)
        ax.set_xlim(1, profile["depth"])
        ax.set_ylim(0, 1)
        ax.set_xlabel("depth")
    for ax in axes[:, 0]:
        ax.set_ylabel("share of power of y")
    for ax in list(axes.flat)[count:]:
        ax.axis("off")
    handles, labels = list(stacks) + [line], list(LEGEND) + ["channel-wise linearity $R^2$"]
    if overlay is not None:
        handles.append(overlay)
        labels.append("infinite-width kernel (cumulative shares)")
        legend_columns = min(legend_columns + 1, 6)
    fig.legend(handles, labels, loc="lower center", ncol=legend_columns, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, legend_height / height, 1, 1))
    save_figure(fig, path, dpi=120)


def _overlay(ax, prediction):
    """Dotted boundaries between the predicted stacked shares; returns one line handle."""
    import numpy as np

    shares = np.cumsum(np.asarray(prediction["shares"]), axis=1)[:, :3]
    depth = np.arange(1, len(shares) + 1)
    lines = ax.plot(depth, shares, color="black", ls=":", lw=1.6)
    return lines[0]
