"""The forward surrogate as a drop-in for the FEM: scenario file in, result file out (engine 'surrogate').

The network is loaded once (`ForwardSurrogate(model_dir)`) and then applied to
any number of scenarios: what `python -m surrogate predict S1.yaml S2.yaml ...`
does, and what a caller that keeps it (an inversion, a hazard study) pays per
scenario. Each scenario is read and validated exactly as the FEM reads it.

The spatial forward network (forward_spatial: the whole station grid at once,
cross components included) is used where the model folder holds one, else the
point-wise one (forward). With the point-wise network this path imports neither
torch nor scipy (the MLP runs in numpy from model.npz, the surfaces are
fem.bspline's), so a process that predicts one scenario, as a workflow job with
`engine: surrogate` does, takes about half a second; the spatial network's U-Net
imports torch when it is first applied (~2 s).

Scenarios outside the training data (surrogate.guard) are refused where their
layer properties, source or sampling lie outside, and flagged where their
geometry does: the result file's attribute out_of_distribution holds the
reason ("" inside). `allow_out_of_distribution` predicts the refused ones
too, flagged.

Where the network carries a calibrated trace std (surrogate.train
`fit_trace_std`), the result file holds it beside the velocity:
`receivers/velocity_std` (R, 3, T) float32, m/s (surrogate.resultfile); about
95 % of the samples of a scenario like the validation ones lie within +-2 std.
Networks trained before it was kept predict as before, without it.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fem.result import Result
from surrogate import scenario as sc
from surrogate.errors import SurrogateInputError
from surrogate.features import FORWARD_TASKS, N_POSITION_CHANNELS
from surrogate.guard import ATTRIBUTE, scenario_verdict
from surrogate.inference import find_model, load_trained, predict_velocity, predict_velocity_std
from surrogate.resultfile import write_surrogate_result


class ForwardSurrogate:
    """The trained forward network of a model folder, ready to replace FEM runs."""

    def __init__(self, model_dir: str | Path, allow_out_of_distribution: bool = False):
        self.model = load_trained(find_model(model_dir, FORWARD_TASKS))
        self.allow_out_of_distribution = allow_out_of_distribution

    def out_of_distribution(self, scenario: sc.Scenario) -> str:
        """The out_of_distribution reason ('' inside); raises the first refusal unless allowed."""
        verdict = scenario_verdict(scenario, self.model.ranges, self.model.source)
        if verdict.refused and not self.allow_out_of_distribution:
            raise SurrogateInputError(verdict.refused[0])
        return verdict.reason

    def result(self, scenario: sc.Scenario, start: float | None = None) -> Result:
        """The surrogate's result for a parsed scenario; refuses one it was not trained for.

        `start` (time.perf_counter()) is when the caller began on this scenario: the
        result's wall_seconds counts from there (reading the file included)."""
        return self.flagged_result(scenario, start)[0]

    def flagged_result(self, scenario: sc.Scenario, start: float | None = None) -> tuple[Result, str]:
        """`result`, and its out_of_distribution reason ('' inside the training data)."""
        start = time.perf_counter() if start is None else start
        model = self.model
        reason = self.out_of_distribution(scenario)
        t = sc.output_times(scenario)
        if t.shape != model.time.shape or not np.allclose(t, model.time):
            raise SurrogateInputError(f"output times differ from the surrogate's "
                                      f"({len(model.time)} samples every {model.time[1] - model.time[0]} s)")
        layers = sc.layer_table(scenario)
        positions = N_POSITION_CHANNELS if model.spec.task == "forward_spatial" else 0
        if layers.size + len(scenario.model.surfaces) + positions != model.spec.n_inputs:
            raise SurrogateInputError("layer count differs from the surrogate's")
        xyz = sc.station_xyz(scenario)
        z = sc.surface_elevations(scenario, xyz[:, :2])
        velocity = predict_velocity(model, z[0], z[1:], layers, xyz[:, :2])
        return Result(xyz, t, velocity, scenario.text, "surrogate", 1, 0, time.perf_counter() - start), reason

    def run(self, scenario_path: str | Path, output: str | Path) -> Result:
        """Read a scenario file, predict, write the result file (atomically); errors name the file."""
        start = time.perf_counter()
        scenario = sc.load_scenario(scenario_path)
        try:
            result, reason = self.flagged_result(scenario, start)
        except SurrogateInputError as err:
            raise SurrogateInputError(f"{scenario_path}: {err}") from None
        write_surrogate_result(output, result, {ATTRIBUTE: reason}, self.velocity_std(result))
        return result

    def velocity_std(self, result: Result) -> np.ndarray | None:
        """(R, 3, T) float32 calibrated std, m/s, of a result's velocity; None for a network without it."""
        return predict_velocity_std(self.model, result.velocity.shape[0])


def choose_engine(scenario_path: str | Path, model_dir: str | Path) -> tuple[str, str]:
    """`engine: auto`'s choice for one scenario: ('surrogate', '') where the guard finds it inside the
    training data, else ('fem', the guard's reason). Inside means nothing refused and nothing flagged:
    a geometry outside the training ranges (which `predict` would still predict, flagged) goes to the
    FEM too, since auto exists to spend FEM runs where the surrogate is not to be trusted."""
    model = ForwardSurrogate(model_dir).model
    verdict = scenario_verdict(sc.load_scenario(scenario_path), model.ranges, model.source)
    return ("fem", verdict.reason) if verdict.reason else ("surrogate", "")


def output_paths(scenarios: list[str], output: str | None, output_dir: str | None) -> list[Path]:
    """Where each scenario's result goes: `-o FILE` for one scenario, `--output-dir DIR` (DIR/STEM.h5) for any."""
    if (output is None) == (output_dir is None):
        raise SurrogateInputError("give either -o RESULT.h5 (one scenario) or --output-dir DIR")
    if output is not None:
        if len(scenarios) != 1:
            raise SurrogateInputError(f"-o names one result file but {len(scenarios)} scenarios were given; "
                                      "use --output-dir")
        return [Path(output)]
    paths = [Path(output_dir) / f"{Path(s).stem}.h5" for s in scenarios]
    seen: dict[Path, str] = {}
    for s, p in zip(scenarios, paths):
        if p in seen:
            raise SurrogateInputError(f"{seen[p]} and {s} would both write {p}")
        seen[p] = s
    return paths
