"""Chunk jobs (config simulate.chunk > 1): several models drawn by one scenario.py process,
several scenarios simulated by one FEM process (workflow/scripts/simulate_chunk.py), and a
changed model re-simulated alone while the rest of its chunk comes back from the cache."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import yaml

from test_workflow_config import planned_jobs, snakemake
from test_workflow_pipeline import workflow_copy

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "config/scenarios/ci.yaml"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "workflow/scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scenario = _load("scenario")
simulate_chunk = _load("simulate_chunk")

# Stands in for `python -m fem run S... --output-dir OUT`: logs the scenarios it was given (one
# line per call), writes OUT/STEM.h5 with fresh random bytes (so a recomputed file differs from a
# restored one) and fails, with the FEM's line, on a scenario that says `fail`.
FAKE_FEM = """
import os, sys
from pathlib import Path
calls, args = sys.argv[1], sys.argv[2:]
out = Path(args[args.index("--output-dir") + 1])
scenarios = [a for a in args if a.endswith(".yaml")]
with open(calls, "a") as f:
    f.write(" ".join(Path(s).stem for s in scenarios) + "\\n")
status = 0
for s in scenarios:
    text = Path(s).read_text()
    if "fail" in text:
        print(f"error: {s}: CG did not converge", file=sys.stderr)
        status = 1
        continue
    (out / f"{Path(s).stem}.h5").write_bytes(text.encode() + os.urandom(16))
sys.exit(status)
"""


class Chunk:
    """K scenario files, their outputs, a cache and the fake FEM, in tmp_path."""

    def __init__(self, tmp_path: Path, k: int = 4):
        self.dir = tmp_path
        self.scenarios = [tmp_path / "scenarios" / f"d{i:04d}.yaml" for i in range(k)]
        self.outputs = [tmp_path / "simulations" / f"d{i:04d}.h5" for i in range(k)]
        self.cache, self.calls = tmp_path / "cache", tmp_path / "calls.txt"
        self.solver = tmp_path / "solver"
        self.solver.mkdir()
        (self.solver / "newmark.py").write_text("BETA = 0.25\n")
        (tmp_path / "fake_fem.py").write_text(FAKE_FEM)
        self.scenarios[0].parent.mkdir()
        for i, path in enumerate(self.scenarios):
            path.write_text(f"model: {i}\n")

    def run(self) -> int:
        """The chunk job as Snakemake runs it: outputs deleted first."""
        for output in self.outputs:
            output.unlink(missing_ok=True)
        self.calls.write_text("")
        return simulate_chunk.simulate_chunk(self.scenarios, self.outputs, self.cache, [self.solver],
                                             [sys.executable, str(self.dir / "fake_fem.py"), str(self.calls)])

    def simulated(self) -> list[list[str]]:
        """The scenario stems of each FEM call of the last run."""
        return [line.split() for line in self.calls.read_text().splitlines()]

    def results(self) -> list[bytes]:
        return [output.read_bytes() for output in self.outputs]


def test_a_changed_scenario_is_simulated_alone_the_rest_restored(tmp_path):
    chunk = Chunk(tmp_path)
    assert chunk.run() == 0
    assert chunk.simulated() == [["d0000", "d0001", "d0002", "d0003"]]
    first = chunk.results()
    assert [r.startswith(f"model: {i}\n".encode()) for i, r in enumerate(first)] == [True] * 4

    chunk.scenarios[2].write_text("model: 2\ntime: {duration: 1.0}\n")
    assert chunk.run() == 0
    assert chunk.simulated() == [["d0002"]]
    second = chunk.results()
    assert [second[i] == first[i] for i in range(4)] == [True, True, False, True]
    assert second[2].startswith(b"model: 2\ntime")
    # restored outputs are newer than their scenarios (else Snakemake would plan them again)
    assert all(o.stat().st_mtime >= s.stat().st_mtime for o, s in zip(chunk.outputs, chunk.scenarios))

    # nothing changed: nothing simulated; the old text again: its first result back
    chunk.scenarios[2].write_text("model: 2\n")
    assert chunk.run() == 0 and chunk.simulated() == [] and chunk.results() == first


def test_a_changed_solver_simulates_the_whole_chunk_again(tmp_path):
    chunk = Chunk(tmp_path)
    assert chunk.run() == 0
    first = chunk.results()
    (chunk.solver / "newmark.py").write_text("BETA = 0.3\n")
    assert chunk.run() == 0
    assert chunk.simulated() == [["d0000", "d0001", "d0002", "d0003"]]
    assert all(a != b for a, b in zip(first, chunk.results()))


def test_a_failing_model_fails_the_job_with_its_line_and_no_outputs(tmp_path, capfd):
    chunk = Chunk(tmp_path)
    chunk.scenarios[1].write_text("model: 1\nfail: true\n")
    assert chunk.run() == 1
    err = capfd.readouterr().err
    assert f"error: {chunk.scenarios[1]}: CG did not converge" in err
    assert f"no result written for {chunk.scenarios[1]}" in err
    assert not any(output.exists() for output in chunk.outputs)
    assert not list(chunk.cache.glob(".run-*")), "the FEM's scratch folder was left behind"
    # the models that did run are kept: once the bad one is fixed, it alone is simulated
    chunk.scenarios[1].write_text("model: 1\n")
    assert chunk.run() == 0 and chunk.simulated() == [["d0001"]]


def test_outputs_must_pair_with_scenarios_by_name(tmp_path, capfd):
    chunk = Chunk(tmp_path, k=2)
    chunk.outputs.reverse()
    assert chunk.run() == 2 and "do not pair" in capfd.readouterr().err


def test_one_process_draws_a_chunk_as_the_per_model_jobs_do(tmp_path):
    """scenario.py --index 0 1 2: the per-model files; --overrides edits only its model."""
    outputs = [tmp_path / f"d{i:04d}.yaml" for i in range(3)]
    overrides = json.dumps({"1": {"time": {"duration": 1.25}}})
    assert scenario.main([str(BASE), "--seed", "4", "--index", "0", "1", "2", "--fixed-layers",
                          "--overrides", overrides, "-o", *map(str, outputs)]) == 0
    for i, path in enumerate(outputs):
        alone = tmp_path / f"alone{i}.yaml"
        override = json.dumps({"time": {"duration": 1.25}} if i == 1 else {})
        assert scenario.main([str(BASE), "--seed", "4", "--index", str(i), "--fixed-layers",
                              "--override", override, "-o", str(alone)]) == 0
        assert path.read_text() == alone.read_text()
    assert yaml.safe_load(outputs[1].read_text())["time"]["duration"] == 1.25


def test_a_bad_override_in_a_chunk_writes_none_of_it(tmp_path, capsys):
    outputs = [tmp_path / f"d{i:04d}.yaml" for i in range(3)]
    rc = scenario.main([str(BASE), "--seed", "4", "--index", "0", "1", "2",
                        "--overrides", json.dumps({"2": {"time": {"durration": 1.0}}}), "-o", *map(str, outputs)])
    assert rc == 2 and "durration" in capsys.readouterr().err
    assert not any(p.exists() for p in outputs)


def test_the_real_fem_through_the_script(tmp_path):
    """Two short column-mesh scenarios through `python -m fem run --output-dir`: the result files."""
    scenarios = [tmp_path / f"d{i:04d}.yaml" for i in range(2)]
    assert scenario.main([str(BASE), "--seed", "1", "--index", "0", "1", "--fixed-layers", "--override",
                          json.dumps({"time": {"duration": 0.3}, "mesh": {"generator": "columns"}}),
                          "-o", *map(str, scenarios)]) == 0
    outputs = [tmp_path / "out" / f"d{i:04d}.h5" for i in range(2)]
    command = [sys.executable, "-m", "fem", "run", "--quiet"]
    assert simulate_chunk.simulate_chunk(scenarios, outputs, tmp_path / "cache", [ROOT / "fem", ROOT / "hpc"],
                                         command) == 0
    for path, output in zip(scenarios, outputs):
        with h5py.File(output, "r") as f:
            assert f.attrs["scenario"] == path.read_text() and f.attrs["engine"] == "fem"
            assert f["receivers/velocity"].shape[-1] == f["receivers/t"].shape[0] == 16
            assert int(f.attrs["batch"]) >= 1


def test_snakemake_reruns_a_chunk_simulating_only_the_changed_model(tmp_path):
    """config/ci.yaml with chunk 3, 3 data models to their results under Snakemake (mpiexec -n 2);
    an override of one of them: the chunk's jobs rerun, the FEM simulates that model alone."""
    wd = workflow_copy(tmp_path / "wd")
    (wd / "chunk.yaml").write_text("simulate: {chunk: 3}\nscenarios: {overrides: {}}\n")
    targets = [f"results/simulations/data/d{i:04d}.h5" for i in range(3)]
    env_args = ("--configfile", "config/ci.yaml", "chunk.yaml", "--cores", "2")
    proc = snakemake(*env_args, *targets, cwd=wd, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = wd / "results/logs/simulate/data/d0000_d0002.log"
    assert "0 of 3 restored" in log.read_text()
    before = [(wd / t).read_bytes() for t in targets]

    (wd / "chunk.yaml").write_text(textwrap.dedent("""\
        simulate: {chunk: 3}
        scenarios: {overrides: {data/d0001: {time: {duration: 1.0}}}}
        """))
    plan = planned_jobs(snakemake("-n", *env_args, *targets, cwd=wd))
    assert plan == {"models_chunk_d0000_d0002": 1, "simulate_chunk_d0000_d0002": 1}
    proc = snakemake(*env_args, *targets, cwd=wd, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 of 3 restored" in log.read_text()
    after = [(wd / t).read_bytes() for t in targets]
    assert [a == b for a, b in zip(before, after)] == [True, False, True]
    again = snakemake("-n", *env_args, *targets, cwd=wd)
    assert "Nothing to be done" in again.stdout + again.stderr
