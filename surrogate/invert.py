"""`invert`: layer-boundary elevations from observed station velocities, written as an estimate file.

Two estimates (DESIGN.md, Replacement):
* network: the inverse estimator (the point-wise or spatial network, or their
  mean; by default the one chosen on validation, surrogate.ensemble) reads the
  station records and ground elevation and gives each boundary's elevation per station;
* optimised (optional): the network's estimate, fitted onto the control grid,
  starts a descent of the waveform misfit through the forward surrogate
  (surrogate.optimise): the first trained of features.FORWARD_TASKS (the
  spatial network where trained, else the point-wise one).
The network estimate comes with its standard deviation (boundaries/elevation_std:
the spread of the trained inverse networks through select's calibration,
surrogate.uncertainty; NaN where `select` has not run); with --optimise it is
still the network estimate's (the descent has no sigma of its own yet). Records sampled
otherwise than the training data, or from another source, are refused; records
whose network inputs lie far outside the training inputs are flagged in the
attribute out_of_distribution (surrogate.guard).
Either can be turned into a scenario (the observed one with b12/b23 replaced
by the control-grid estimate), which one FEM run then confirms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fem.result import Result
from surrogate.errors import SurrogateInputError
from surrogate.generate import SURFACE_NAMES, scenario_with_boundaries, write_text_atomic
from surrogate.ensemble import calibration, candidate_estimates, candidates, load_inverse, network_spread, selection
from surrogate.features import FORWARD_TASKS, inverse_inputs, waveform_components
from surrogate.guard import ATTRIBUTE, check_record, feature_flag
from surrogate.inference import find_model, load_trained
from surrogate.optimise import fit_control_grid, interpolation_matrix, optimise_boundaries
from surrogate.resultfile import read_result, write_estimate
from surrogate.scenario import layer_table, parse_scenario, same_source
from surrogate.spectra import Band, log_amplitude_spectra

#: control grid of the estimate when the observed scenario's boundaries are flat (the generator's default)
DEFAULT_CONTROL_GRID = (5, 5)


def invert(result_path: str | Path, model_dir: str | Path, out_path: str | Path, network: str | None = None,
           optimise: bool = False, confirm_scenario: str | Path | None = None, records: Result | None = None) -> dict:
    """Write the estimate file (and optionally a confirmation scenario); return a summary.

    records: the observations already read (surrogate.obsio: miniSEED, SAC, ...); result_path then only names them."""
    rec = read_result(result_path) if records is None else records
    inverse = load_inverse(model_dir, network)
    first = inverse.members[0]
    check_record(str(result_path), rec.t, rec.xyz, rec.scenario, first.time, first.station_xy, first.grid,
                 first.source)
    f = inverse.frequency
    spectra = log_amplitude_spectra(rec.velocity, float(rec.t[1] - rec.t[0]), Band(f[0], f[-1], len(f)))
    inputs = (spectra[None], rec.velocity[None], rec.xyz[None, :, 2], rec.xyz[:, :2])
    estimates = candidate_estimates(candidates(model_dir), *inputs)
    by_network = estimates[inverse.name][0]                                                          # (B, R)
    record = selection(model_dir)
    cal = calibration(record, inverse.name)
    std = cal.sigma(network_spread(estimates)[0]) if cal is not None else np.full(by_network.shape, np.nan)
    flag = feature_flag(inverse_inputs(*inputs[:3], waveform_components(first.source)),
                        record.get("feature_range") if record else None)
    estimate, summary = by_network, {"network": inverse.name, "stations": int(rec.xyz.shape[0]),
                                     ATTRIBUTE: flag}
    extra = {"boundaries/elevation_network": by_network, "boundaries/elevation_std": std}
    if optimise or confirm_scenario:
        if not rec.scenario:
            raise SurrogateInputError(f"{result_path}: records no scenario (needed for the box, ground and layers)")
        scenario = parse_scenario(rec.scenario)
        model = scenario.model
        shape = model.surfaces[1].control.shape if model.surfaces[1].control.size > 1 else DEFAULT_CONTROL_GRID
        weights = interpolation_matrix(model.x, model.y, shape, rec.xyz[:, :2])
        control = fit_control_grid(weights, by_network).reshape(-1, *shape)
        if optimise:
            forward = load_trained(find_model(model_dir, FORWARD_TASKS))   # the spatial network where trained
            if not same_source(scenario, forward.source):
                raise SurrogateInputError(f"{result_path}: its source differs from the forward surrogate's")
            grid = optimise_boundaries(forward, rec.velocity, rec.xyz[:, 2], layer_table(scenario), weights, control,
                                       xy=rec.xyz[:, :2])
            estimate, control = grid.elevation, grid.control
            extra["boundaries/elevation_optimised"] = grid.elevation
            summary.update(optimised=True, forward_network=forward.spec.task, misfit_start=grid.start_misfit,
                           misfit_final=grid.misfit)
        extra["boundaries/control_grid"] = control
        if confirm_scenario:
            names = tuple(s.name for s in model.surfaces[1:]) or SURFACE_NAMES[1:]
            write_text_atomic(Path(confirm_scenario), scenario_with_boundaries(rec.scenario, control, names))
            summary["confirm_scenario"] = str(confirm_scenario)
    write_estimate(out_path, rec.xyz, estimate,
                   {"network": inverse.name, "method": "optimised" if optimise else "network",
                    "source_file": str(result_path), "engine": "surrogate", ATTRIBUTE: flag,
                    "uncertainty": "calibrated by select on validation" if cal is not None
                    else "uncalibrated (run `python -m surrogate select`): elevation_std is NaN"}, extra)
    return summary
