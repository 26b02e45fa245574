"""What the point-wise inverse network can reach when every station is exactly a 1D column.

Ground models are drawn as the benchmark configuration draws them (its base
scenario, `scenarios.distribution`, fixed layers); each contributes the column
beneath one random station. Its surface velocity comes from the exact damped
1D solution (fem.exact.column, the solver's own Rayleigh damping and input
wavelet), its features (spectra and the driven component's waveform,
surrogate.features.inverse_inputs) exactly as the data set makes them, and the point-wise MLP (surrogate.nets.mlp, the pipeline's widths) is
trained on N columns and scored on 1000 others: the fraction of boundary depths
within +-2 m. No FEM: this separates what the inverse problem and the network
allow from what the 3D wave field and the amount of FEM data take away.

    python benchmarks/inverse_1d_ceiling.py [--sizes 150 400 1000] [--config config/benchmark.yaml]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fem.exact.column import column_response  # noqa: E402
from fem.freefield import column_at, incident_velocity  # noqa: E402
from fem.materials import layer_rayleigh  # noqa: E402
from fem.scenario import load_scenario  # noqa: E402
from surrogate.distribution import distribution_from_settings  # noqa: E402
from surrogate.features import inverse_inputs, waveform_components  # noqa: E402
from surrogate.generate import draw_ground_model  # noqa: E402
from surrogate.nets.mlp import MLP  # noqa: E402
from surrogate.scenario import source_text  # noqa: E402
from surrogate.spectra import Band, log_amplitude_spectra  # noqa: E402

N_TEST = 1000


def columns(config: dict, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 3F + CT + 1), depths of b12 and b23 below the ground (n, 2)) of n drawn columns."""
    base = load_scenario(ROOT / config["base_scenario"])
    dist = distribution_from_settings(config["scenarios"].get("distribution", {}))
    if config["scenarios"].get("fixed_layers", False):
        dist = dist.with_fixed_layers(base.model.layers)
    band = Band(*config.get("dataset", {}).get("band", [0.25, 8.0, 64]))
    band = Band(band.f_min, band.f_max, int(band.n))
    dt = base.time.dt
    t = dt * np.arange(base.time.n_steps + 1)
    v_inc = incident_velocity(base.source, t)
    components = waveform_components(source_text(base))
    c = "xyz".index(base.source.component)
    rng = np.random.default_rng(seed)
    features, depths = [], []
    for _ in range(n):
        model = draw_ground_model(rng, dist, base.model)
        x = rng.uniform(*model.x)
        y = rng.uniform(*model.y)
        col = column_at(model, layer_rayleigh(model, base.solver.rayleigh_band), x, y)
        v = np.zeros((3, t.size))
        v[c] = column_response(col, base.source.component, v_inc, dt, np.array([col.z_top])).velocity[0]
        step = max(1, int(round(base.output_dt / dt)))
        w = v[None, :, ::step]                                              # one station: (1, 3, T)
        spectra = log_amplitude_spectra(w, step * dt, band)
        features.append(inverse_inputs(spectra, w, np.array([col.z_top]), components)[0])
        depths.append(col.z_top - col.interfaces[1:3])
    return np.array(features), np.array(depths)


def fit_and_score(x_train, y_train, x_test, y_test, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(within +-2 m per boundary, RMSE per boundary) of the MLP trained on (x_train, y_train)."""
    torch.manual_seed(seed)
    mx, sx = x_train.mean(0), x_train.std(0) + 1e-6
    my, sy = y_train.mean(0), y_train.std(0)
    xt = torch.tensor((x_train - mx) / sx, dtype=torch.float32)
    yt = torch.tensor((y_train - my) / sy, dtype=torch.float32)
    net = MLP(xt.shape[1], 2, (256, 256, 256))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-5)
    batches = max(1, int(np.ceil(len(xt) / 128)))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * batches)
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(128):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(xt[idx]), yt[idx]).backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        pred = net(torch.tensor((x_test - mx) / sx, dtype=torch.float32)).numpy() * sy + my
    err = np.abs(pred - y_test)
    return (err <= 2.0).mean(0), np.sqrt((err**2).mean(0))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", type=Path, default=ROOT / "config" / "benchmark.yaml")
    p.add_argument("--sizes", type=int, nargs="+", default=[150, 400, 1000])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    config = yaml.safe_load(a.config.read_text())
    start = time.perf_counter()
    x, y = columns(config, max(a.sizes) + N_TEST, a.seed)
    print(f"{len(y)} exact 1D columns from {a.config.name} in {time.perf_counter() - start:.0f} s; "
          f"depth spread (std) b12 {y[:, 0].std():.1f} m, b23 {y[:, 1].std():.1f} m")
    x_test, y_test = x[-N_TEST:], y[-N_TEST:]
    for n in a.sizes:
        start = time.perf_counter()
        within, rmse = fit_and_score(x[:n], y[:n], x_test, y_test, a.epochs, a.seed)
        print(f"N = {n:5d} training columns: within +-2 m b12 {100 * within[0]:.1f} %, b23 {100 * within[1]:.1f} %, "
              f"both {100 * within.mean():.1f} %; RMSE {rmse[0]:.2f} / {rmse[1]:.2f} m "
              f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
