"""PNG figures a person checks first: boundary maps, error histograms, waveform overlays."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt   # noqa: E402  (after choosing the file-only backend)
import numpy as np                # noqa: E402

from surrogate.dataset import Store  # noqa: E402


def boundary_maps(path: Path, store: Store, models: np.ndarray, estimate: np.ndarray, n_models: int = 3) -> None:
    """True, estimated and error maps of each boundary on the station grid for the first test models."""
    nx, ny = store.grid
    if nx * ny == 0:
        return
    n = min(n_models, len(models))
    n_b = estimate.shape[1]
    fig, axes = plt.subplots(n * n_b, 3, figsize=(10, 3 * n * n_b), squeeze=False)
    extent = [store.station_xy[:, 0].min(), store.station_xy[:, 0].max(),
              store.station_xy[:, 1].min(), store.station_xy[:, 1].max()]
    for i in range(n):
        for b in range(n_b):
            true = store.boundary_elevation[models[i], b, : nx * ny].reshape(ny, nx)
            est = estimate[i, b, : nx * ny].reshape(ny, nx)
            row = axes[i * n_b + b]
            lo, hi = min(true.min(), est.min()), max(true.max(), est.max())
            for ax, img, title, kw in ((row[0], true, "true", dict(vmin=lo, vmax=hi)),
                                       (row[1], est, "estimated", dict(vmin=lo, vmax=hi)),
                                       (row[2], est - true, "error", dict(cmap="RdBu_r", vmin=-4, vmax=4))):
                im = ax.imshow(img, origin="lower", extent=extent, **kw)
                ax.set_title(f"model {models[i]} boundary {b + 1}/{b + 2}: {title}", fontsize=8)
                fig.colorbar(im, ax=ax, label="m")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def error_histogram(path: Path, estimates: dict, target: np.ndarray, tolerance_m: float) -> None:
    """Histogram of estimate - target per network, with the +-tolerance band shaded."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, est in estimates.items():
        err = (est - target).ravel()
        ax.hist(np.clip(err, -5 * tolerance_m, 5 * tolerance_m), bins=80, histtype="step", label=name)
    ax.axvspan(-tolerance_m, tolerance_m, color="g", alpha=0.15, label=f"+-{tolerance_m} m")
    ax.set_xlabel("estimated - true boundary elevation, m (clipped)")
    ax.set_ylabel("estimates")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def waveform_overlay(path: Path, t: np.ndarray, pred: np.ndarray, ref: np.ndarray, n_stations: int = 4) -> None:
    """Predicted over reference velocity, three components, for a few stations of one model (R, 3, T)."""
    picks = np.linspace(0, pred.shape[0] - 1, n_stations).astype(int)
    fig, axes = plt.subplots(n_stations, 3, figsize=(12, 2 * n_stations), sharex=True, squeeze=False)
    for row, s in zip(axes, picks):
        for c, ax in enumerate(row):
            ax.plot(t, ref[s, c], "k", lw=1, label="reference")
            ax.plot(t, pred[s, c], "r--", lw=1, label="surrogate")
            ax.set_title(f"station {s}, {'xyz'[c]}", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("t, s")
    fig.supylabel("velocity, m/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def training_curves(path, histories: dict[str, list[dict]]) -> None:
    """Training and validation loss per epoch of each network (its model.npz meta["history"]), log scale;
    path: a file name or a binary file object (the report embeds the PNG)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for (name, history), colour in zip(histories.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 9):
        epochs = [h["epoch"] + 1 for h in history]
        train = [np.nan if h.get("train_loss") is None else h["train_loss"] for h in history]
        ax.plot(epochs, train, "--", color=colour, lw=1, label=f"{name} train")
        ax.plot(epochs, [h["val_loss"] for h in history], "-", color=colour, lw=1.5, label=f"{name} validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (normalised targets)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
