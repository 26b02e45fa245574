"""Real FEM training data for the surrogate tests: small random ground models run with `python -m fem run`.

One data set per test session (seed 0): model i is drawn from its own stream
(seed, i), so asking for more models extends the set and every test file
shares the runs already made. Sized for CI (2 cores): a 100 m x 100 m x 50 m box,
order-1 elements at 5 per shear wavelength up to 3 Hz, 1.6 s in 0.02 s steps,
about 10-15k degrees of freedom and 5-10 s per run; two runs at a time.
"""
from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from surrogate.distribution import FAMILIES, Distribution
from surrogate.generate import generate_scenarios

ROOT = Path(__file__).resolve().parents[1]
BASE = """
model:
  domain: {x: [0.0, 100.0], y: [0.0, 100.0], z_bottom: -50.0}
  surfaces: [{name: ground, elevation: 0.0}, {name: b12, elevation: -10.0}, {name: b23, elevation: -22.0}]
  layers:
    - {vp: 400.0,  vs: 150.0, rho: 1700.0, damping: 0.02}
    - {vp: 1000.0, vs: 400.0, rho: 1900.0, damping: 0.01}
    - {vp: 1800.0, vs: 800.0, rho: 2100.0, damping: 0.005}
mesh: {order: 1, f_max: 3.0, elements_per_wavelength: 5}
time: {duration: 1.6, dt: 0.02}
source: {type: plane_wave, component: x, wavelet: {type: ricker, f0: 2.5, t0: 0.5, amplitude: 0.01}}
receivers: {grid: {nx: 5, ny: 5}}
output: {dt: 0.02}
"""
#: layer 1 is 8-18 m thick on average (its resonance vs/4H, 2-4.7 Hz, lies in the wavelet's band),
#: layer 2 8-16 m, each varying +-2 m (1 sigma) laterally; all at least 6 m everywhere so no layer
#: forces tiny elements
DISTRIBUTION = Distribution(topography_std_m=1.0, thickness1_frac=(0.16, 0.36), thickness2_frac=(0.16, 0.32),
                            thickness_std_frac=0.04, min_thickness_m=6.0, bottom_clearance_m=10.0)
#: the 3D set (`fem_runs_3d`): the same mean depths plus one or two lateral-structure families
#: (surrogate.distribution), their amplitudes scaled to the 100 m box (boundary std 1.5-3 m at the
#: stations, slopes up to ~20 degrees): the cross components y, z carry ~10-15 % of the x motion
DISTRIBUTION_3D = replace(DISTRIBUTION, families=FAMILIES, families_per_model=(1, 2), multiscale_std_m=(1.5, 3.0),
                          dip_deg=(5.0, 12.0), basin_depth_m=(4.0, 9.0), fault_throw_m=(3.0, 7.0),
                          ridge_height_m=(3.0, 7.0))
SEED = 0
#: set to a folder to keep the runs between sessions (local iteration only: nothing checks that
#: the folder was made with this BASE and DISTRIBUTION)
KEEP_ENV = "SURROGATE_TEST_FEM_RUNS"
_folder: Path | None = None


def _workdir() -> Path:
    global _folder
    if _folder is None and os.environ.get(KEEP_ENV):
        _folder = Path(os.environ[KEEP_ENV])
        _folder.mkdir(parents=True, exist_ok=True)
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="surrogate-fem-runs-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def _run_fem(scenario: Path, result: Path) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "fem", "run", str(scenario), "-o", str(result), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"fem run {scenario.name} failed: {proc.stderr[-2000:]}")


def fem_runs(n_models: int) -> list[tuple[Path, Path]]:
    """[(scenario file, FEM result file)] of the first n_models models of the (near-1D) test data set."""
    return _runs(n_models, DISTRIBUTION, _workdir())


def fem_runs_3d(n_models: int) -> list[tuple[Path, Path]]:
    """[(scenario file, FEM result file)] of the first n_models models of the 3D test data set."""
    return _runs(n_models, DISTRIBUTION_3D, _workdir() / "3d")


def _runs(n_models: int, dist: Distribution, folder: Path) -> list[tuple[Path, Path]]:
    scenarios = generate_scenarios(BASE, n_models, SEED, folder / "scenarios", dist=dist, fixed_layers=True)
    runs = [(s, folder / "results" / f"{s.stem}.h5") for s in scenarios]
    (folder / "results").mkdir(exist_ok=True)
    todo = [(s, r) for s, r in runs if not r.is_file()]
    with ThreadPoolExecutor(max_workers=2) as pool:   # two one-rank runs: the 2 cores of CI
        list(pool.map(lambda sr: _run_fem(*sr), todo))
    return runs
