"""The `models` stage: write ground model INDEX of a seeded data set as a scenario file.

Model INDEX is drawn from its own random stream seeded by (SEED, INDEX)
(surrogate.generate), so a model's scenario does not depend on which other
models one process draws: the workflow draws one model per job, or a chunk of
consecutive models per job (config simulate.chunk) to pay the interpreter's
start once. An override is a partial scenario (JSON) merged over the generated
one, key by key: --override over every model drawn, --overrides {"INDEX": ...}
over model INDEX alone (a chunk's per-model overrides), so an override changes
only its own model's scenario text. The
distribution's geometry settings (surrogate.distribution.Distribution fields,
config scenarios.distribution) come as JSON too. --family draws the boundaries'
structure from one family alone (a held-out family set), exactly as
`python -m surrogate generate --family` does.

    python workflow/scripts/scenario.py BASE.yaml --seed S --index I [I ...] [--distribution JSON]
        [--family NAME] [--override JSON] [--overrides JSON] -o OUT.yaml [OUT.yaml ...]

With several indices, -o names one file per index, in the same order; if any model fails
(a broken override), none is written.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import numpy as np

# Run as a file by the workflow: make this checkout's fem/ and surrogate/ importable, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import yaml


def deep_merge(tree: dict, override: dict) -> dict:
    """A copy of `tree` with `override` merged in: mappings recursively, anything else replaced."""
    merged = copy.deepcopy(tree)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def scenario_text(base_text: str, seed: int, index: int, fixed_layers: bool, override: dict,
                  distribution: dict | None = None, family: str | None = None) -> str:
    """YAML text of model `index` of the data set (base_text, seed), override applied.

    distribution: Distribution fields that differ from the defaults (geometry only);
    family: the boundaries' structure from this family alone (Distribution.single_family)."""
    from surrogate.distribution import distribution_from_settings
    from surrogate.generate import draw_ground_model, scenario_tree
    from surrogate.scenario import parse_scenario

    base = parse_scenario(base_text).model
    dist = distribution_from_settings(distribution or {})
    dist = dist.with_fixed_layers(base.layers) if fixed_layers else dist
    dist = dist.single_family(family) if family is not None else dist
    model = draw_ground_model(np.random.default_rng([seed, index]), dist, base)
    tree = deep_merge(scenario_tree(yaml.safe_load(base_text), model), override)
    return yaml.safe_dump(tree, sort_keys=False, default_flow_style=None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", type=Path, help="base scenario (YAML): domain, mesh, time, source, receivers")
    p.add_argument("--seed", type=int, required=True, help="seed of the data set")
    p.add_argument("--index", type=int, nargs="+", required=True, help="model number(s) within the data set")
    p.add_argument("--fixed-layers", action="store_true", help="keep the base scenario's layer properties")
    p.add_argument("--distribution", default="{}", help="Distribution geometry settings (JSON)")
    p.add_argument("--family", help="draw the boundaries' structure from this family alone (held-out family set)")
    p.add_argument("--override", default="{}", help="partial scenario (JSON) merged over every generated one")
    p.add_argument("--overrides", default="{}", help='{"INDEX": partial scenario} (JSON), each merged over model INDEX')
    p.add_argument("-o", "--output", type=Path, nargs="+", required=True,
                   help="scenario file(s) to write (YAML), one per index")
    args = p.parse_args(argv)
    if len(args.output) != len(args.index):
        p.error(f"-o: {len(args.output)} file(s) for {len(args.index)} index(es)")

    from fem.scenario import ScenarioError, parse_scenario
    from surrogate.errors import SurrogateInputError
    from surrogate.generate import write_text_atomic
    texts = []
    for index, output in zip(args.index, args.output):
        try:
            override = deep_merge(json.loads(args.override), json.loads(args.overrides).get(str(index), {}))
            text = scenario_text(args.base.read_text(), args.seed, index, args.fixed_layers,
                                 override, json.loads(args.distribution), args.family)
            parse_scenario(text)  # refuse a broken override here, naming the key, not in the FEM run
        except (OSError, ScenarioError, SurrogateInputError, json.JSONDecodeError) as err:
            print(f"error: {output}: {err}", file=sys.stderr)
            return 2
        texts.append(text)
    for output, text in zip(args.output, texts):
        output.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(output, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
