"""Honest baselines for the inverse problem, and a confidence interval for the scores.

`mean_depth_oracle`: each test model's TRUE mean depth of each boundary below
the (known) ground, over that model's stations, applied at every station. It
reads the truth, so it is no estimator: it is what a perfect 1D-per-model
inversion reaches, and its misses are exactly the within-model lateral
variation of the boundaries (a flat layered model is reproduced exactly).

`column_fit_estimate`: the classical station-by-station 1D fit. Each station
is taken as a flat layered column over the domain's halfspace, the layer
properties of its model known (store.layers), and the boundary depths below
its known ground that best explain its observed log amplitude spectrum of the
driven component (x for an x-polarised plane wave) are searched. The synthetic
record is the exact damped 1D response (fem.exact.column: the solver's Rayleigh
damping over the base scenario's band, the base scenario's time step, input
wavelet and domain bottom, the last layer continued as the elastic halfspace,
exactly as fem.freefield builds the lateral free field), sampled at the store's
output_dt and reduced to spectra in the store's band by surrogate.spectra, as
the store's own records were. The misfit is the L2 distance between the log
spectra only: the spectrum carries the column's resonances and ignores the
small arrival-time shifts that 3D structure puts on the waveforms, and adding a
waveform term would need a weight that is itself a tuning choice. The
candidates span the training split's range of depths (min .. max over every
training station, plus a margin of 2 m), never the test truth. Search: a table
of candidates every 0.5 m, tabulated once per ground-elevation bin (0.5 m: the
column top moves with the ground while the domain bottom stays) and per
distinct layer table (with fixed layers every model shares one); each
station's best candidate is then polished by Levenberg-Marquardt steps at its
exact ground (forward-difference Jacobian), which only ever lower the misfit.
The misfit has long narrow valleys (a deeper b12 traded against a shallower
b23), which a grid refinement walks along only slowly: on exact columns the
polish recovers the depths to ~1e-5 m where a 0.25 m grid refinement leaves
errors over 1 m at a fifth of the stations; a 1 m table picks the wrong basin
at ~1 % of them, a 0.5 m one at none of 300 tried. A layer is never thinner
than 0.25 m. Synthetics are computed in batches; surrogate.spectra's floor
(1e-6 of a batch's peak) lies orders of magnitude below the band's amplitudes,
so batching does not move them.

`bootstrap_within`: the fraction of estimates within the tolerance (strictly,
as surrogate.evaluate.boundary_scores) with a percentile bootstrap interval
over the test MODELS: the stations of one model share its ground and are not
independent, so the models, not the estimates, are resampled.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fem.exact.column import Columns, columns_response
from fem.freefield import incident_velocity
from fem.materials import rayleigh_coefficients
from fem.scenario import PlaneWave, Scenario, ScenarioError, load_scenario
from surrogate.dataset import TRAIN, Store
from surrogate.errors import SurrogateInputError
from surrogate.features import BOUNDARY_NAMES, boundary_depth
from surrogate.scenario import same_source
from surrogate.spectra import Band, log_amplitude_spectra

#: step of the column fit's table of candidate depths, m
GRID_M = 0.5
#: Levenberg-Marquardt iterations that polish each station's best candidate
ITERATIONS = 10
#: thinnest layer a candidate column may have, m
THINNEST_M = 0.25
#: forward-difference step of the misfit's Jacobian, m (< THINNEST_M: a shifted column stays valid)
_FD_STEP_M = 0.05
#: stations polished together: bounds the (columns, frequencies) transfer functions in memory
_POLISH_BLOCK = 2048


def mean_depth_oracle(store: Store, models: np.ndarray) -> np.ndarray:
    """(N, B, R) m: ground minus each model's true mean depth of each boundary over its stations."""
    ground = store.ground_elevation[models]
    mean_depth = boundary_depth(ground, store.boundary_elevation[models]).mean(axis=1)      # (N, B)
    return ground[:, None, :] - mean_depth[:, :, None]


@dataclass(frozen=True)
class ColumnForward:
    """The store's view of flat layered columns: exact 1D surface records turned into its spectra."""
    component: str                      #: driven component of the plane wave, 'x', 'y' or 'z'
    incident: np.ndarray                #: (T_fem,) upgoing incident velocity at z_bottom, m/s, every dt
    dt: float                           #: time step of the solver, s
    step: int                           #: solver steps per output sample
    n_out: int                          #: output samples per record
    band: Band                          #: the store's spectral band
    rayleigh_band: tuple[float, float]  #: Hz over which the solver fits each layer's Rayleigh damping
    z_bottom: float                     #: elevation of the domain bottom, m

    def spectra(self, layers: np.ndarray, ground: np.ndarray, depths: np.ndarray) -> np.ndarray:
        """(C, F) log10 amplitude of the driven component at the surface of C columns.

        layers: (L, 4) vp, vs, rho, damping; ground: (C,) surface elevations, m;
        depths: (C, L - 1) increasing boundary depths below the ground, m, above z_bottom.
        """
        bottom = (ground - self.z_bottom)[:, None]
        thickness = np.diff(np.concatenate([np.zeros_like(bottom), depths, bottom], axis=1), axis=1)
        ab = np.array([rayleigh_coefficients(float(d), self.rayleigh_band) for d in layers[:, 3]])
        columns = Columns(thickness, layers[:, 0], layers[:, 1], layers[:, 2], ab[:, 0], ab[:, 1],
                          tuple(layers[-1, :3]), ground)
        velocity = columns_response(columns, self.component, self.incident, self.dt, ground,
                                    np.arange(len(ground))).velocity
        return log_amplitude_spectra(velocity[:, ::self.step][:, :self.n_out], self.step * self.dt,
                                     self.band).astype(np.float64)


def column_forward(store: Store, base_scenario: Scenario | str | Path) -> ColumnForward:
    """The 1D forward model of the store's acquisition; SurrogateInputError where the base scenario differs.

    base_scenario: a parsed Scenario (e.g. one of the store's own models) or its file."""
    try:
        base = base_scenario if isinstance(base_scenario, Scenario) else load_scenario(base_scenario)
    except ScenarioError as err:
        raise SurrogateInputError(f"base scenario: {err}") from None
    if not isinstance(base.source, PlaneWave) or not same_source(base, store.source):
        raise SurrogateInputError(f"{base_scenario}: its source is not the store's plane wave")
    output_dt = float(store.time[1] - store.time[0])
    step = max(1, int(round(output_dt / base.time.dt)))
    n_out = len(range(0, base.time.n_steps + 1, step))
    if abs(step * base.time.dt - output_dt) > 1e-9 * output_dt or n_out != store.time.size:
        raise SurrogateInputError(f"{base_scenario}: time stepping does not give the store's {store.time.size} "
                                  f"samples every {output_dt} s")
    if np.any(store.ground_elevation <= base.model.z_bottom):
        raise SurrogateInputError(f"{base_scenario}: domain bottom {base.model.z_bottom} m is not below the ground")
    t = base.time.dt * np.arange(base.time.n_steps + 1)
    band = Band(float(store.frequency[0]), float(store.frequency[-1]), int(store.frequency.size))
    return ColumnForward(base.source.component, incident_velocity(base.source, t), base.time.dt, step, n_out, band,
                         base.solver.rayleigh_band, base.model.z_bottom)


def training_depth_range(store: Store, margin_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper), each (B,) m: each boundary's depth range over the training stations, widened by margin_m."""
    train = store.models(TRAIN)
    if train.size == 0:
        raise SurrogateInputError("column fit: the store has no training models to take the depth range from")
    depth = boundary_depth(store.ground_elevation[train], store.boundary_elevation[train])
    return depth.min(axis=(0, 1)) - margin_m, depth.max(axis=(0, 1)) + margin_m


def fit_columns(forward: ColumnForward, layers: np.ndarray, ground: np.ndarray, observed: np.ndarray,
                lower: np.ndarray, upper: np.ndarray, grid_m: float = GRID_M, ground_bin_m: float = 0.5,
                iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """(depths (S, B) m, misfit (S,)) of the best flat column under S stations sharing one layer table.

    layers: (L, 4); ground: (S,) m; observed: (S, F) log spectra of the driven
    component; lower, upper: (B,) depth range searched, m. The misfit is the
    squared L2 distance between observed and synthetic log spectra.
    """
    axes = [np.arange(lo, hi + 0.5 * grid_m, grid_m) for lo, hi in zip(np.maximum(lower, THINNEST_M), upper)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
    depths, misfit = np.empty((ground.size, grid.shape[1])), np.empty(ground.size)
    bins = np.round(ground / ground_bin_m) * ground_bin_m
    for z in np.unique(bins):
        at = np.flatnonzero(bins == z)
        room = np.full(len(grid), z - 0.5 * ground_bin_m - forward.z_bottom)     # for every station of the bin
        table = grid[_valid(grid, room)]
        if table.size == 0:
            raise SurrogateInputError(f"column fit: no candidate depths fit between ground {z} m and the domain bottom")
        cost = _squared_distance(observed[at], forward.spectra(layers, np.full(len(table), z), table))
        best = np.argmin(cost, axis=1)
        depths[at] = table[best]
    for start in range(0, ground.size, _POLISH_BLOCK):
        block = slice(start, start + _POLISH_BLOCK)
        depths[block], misfit[block] = _polish(forward, layers, ground[block], observed[block], depths[block],
                                               lower, upper, iterations)
    return depths, misfit


def _polish(forward: ColumnForward, layers: np.ndarray, ground: np.ndarray, observed: np.ndarray, depths: np.ndarray,
            lower: np.ndarray, upper: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt steps from depths (S, B) at each station's own ground: (depths, misfit (S,)).

    The Jacobian is a forward difference of _FD_STEP_M; a step that leaves the
    search box, makes a layer thinner than THINNEST_M or does not lower the
    misfit is refused and the damping raised, so the misfit never grows.
    """
    n, n_b = depths.shape
    room = ground - forward.z_bottom
    residual = forward.spectra(layers, ground, depths) - observed
    cost = np.sum(residual**2, axis=1)
    jacobian = np.empty((n, residual.shape[1], n_b))
    lam, stale = np.full(n, 1e-2), np.ones(n, dtype=bool)
    for _ in range(iterations):
        at = np.flatnonzero(stale)
        if at.size:
            shifted = np.repeat(depths[at], n_b, axis=0) + _FD_STEP_M * np.tile(np.eye(n_b), (at.size, 1))
            synthetic = forward.spectra(layers, np.repeat(ground[at], n_b), shifted).reshape(at.size, n_b, -1)
            jacobian[at] = np.swapaxes(synthetic - (residual[at] + observed[at])[:, None, :], 1, 2) / _FD_STEP_M
        normal = np.swapaxes(jacobian, 1, 2) @ jacobian                                    # (S, B, B)
        damped = normal + lam[:, None, None] * (np.diagonal(normal, axis1=1, axis2=2)[:, :, None] * np.eye(n_b)
                                                + 1e-9 * np.eye(n_b))
        gradient = np.einsum("sfb,sf->sb", jacobian, residual)
        trial = np.clip(depths - np.linalg.solve(damped, gradient[:, :, None])[:, :, 0], lower, upper)
        ok = _valid(trial, room)
        trial[~ok] = depths[~ok]
        trial_residual = forward.spectra(layers, ground, trial) - observed
        trial_cost = np.sum(trial_residual**2, axis=1)
        better = ok & (trial_cost < cost)
        depths[better], residual[better], cost[better] = trial[better], trial_residual[better], trial_cost[better]
        lam = np.where(better, lam / 3.0, lam * 4.0)
        stale = better
    return depths, cost


def column_fit_estimate(store: Store, models: np.ndarray, base_scenario: Scenario | str | Path, grid_m: float = GRID_M,
                        ground_bin_m: float = 0.5, margin_m: float = 2.0, iterations: int = ITERATIONS,
                        depth_range: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(N, B, R) m: boundary elevations of the best exact 1D column under each station (see the module docstring).

    base_scenario: the scenario (or its file) the store's models were drawn from
    (domain bottom, Rayleigh band, time step, source); any one of its models will do.
    depth_range: (lower, upper) depths searched, each (B,) m; default the store's
    training range (`training_depth_range`), e.g. another store's for a held-out set.
    """
    forward = column_forward(store, base_scenario)
    lower, upper = depth_range if depth_range is not None else training_depth_range(store, margin_m)
    models = np.asarray(models)
    ground = store.ground_elevation[models]                                         # (N, R)
    observed = store.spectra[models][:, :, "xyz".index(forward.component)].astype(np.float64)   # (N, R, F)
    n, r = ground.shape
    tables, which = np.unique(store.layers[models].reshape(n, -1), axis=0, return_inverse=True)
    estimate = np.empty((n, lower.size, r))
    for k, table in enumerate(tables):
        sel = which.ravel() == k
        depths, _ = fit_columns(forward, table.reshape(-1, 4), ground[sel].ravel(),
                                observed[sel].reshape(-1, observed.shape[-1]), lower, upper, grid_m, ground_bin_m,
                                iterations)
        estimate[sel] = ground[sel][:, None, :] - np.swapaxes(depths.reshape(-1, r, lower.size), 1, 2)
    return estimate


def bootstrap_within(estimate: np.ndarray, target: np.ndarray, tol: float, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """Fraction of |estimate - target| < tol, both (N, B, R) m, with a percentile bootstrap CI over the N models.

    Returns {within_tolerance, ci_low, ci_high, per_boundary: {b12: {...}, b23: {...}}}.
    """
    hit = np.abs(estimate - target) < tol
    per_model = hit.mean(axis=2)                                                    # (N, B): equal stations per model
    draws = np.random.default_rng(seed).integers(0, len(per_model), (n_boot, len(per_model)))
    q = 100 * np.array([(1 - level) / 2, (1 + level) / 2])

    def summary(fraction: np.ndarray) -> dict:
        low, high = np.percentile(fraction[draws].mean(axis=1), q)
        return {"within_tolerance": float(fraction.mean()), "ci_low": float(low), "ci_high": float(high)}

    per = {BOUNDARY_NAMES[b] if b < len(BOUNDARY_NAMES) else f"boundary{b}": summary(per_model[:, b])
           for b in range(per_model.shape[1])}
    return {**summary(per_model.mean(axis=1)), "level": level, "n_models": int(len(per_model)), "per_boundary": per}


def _valid(depths: np.ndarray, room: np.ndarray) -> np.ndarray:
    """(K,) whether boundary depths (K, B) leave every layer >= THINNEST_M down to room (K,) m below the ground."""
    thickness = np.diff(np.concatenate([np.zeros((len(depths), 1)), depths, room[:, None]], axis=1), axis=1)
    return np.all(thickness >= THINNEST_M - 1e-9, axis=1)


def _squared_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(S, K) squared L2 distances between the rows of a (S, F) and b (K, F)."""
    return np.maximum((a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * a @ b.T, 0.0)
