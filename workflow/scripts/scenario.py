"""The `models` stage: write ground model INDEX of a seeded data set as a scenario file.

Model INDEX is drawn from its own random stream seeded by (SEED, INDEX)
(surrogate.generate), so every scenario is one independent job and changing
one scenario's override re-runs only that scenario's jobs. An override is a
partial scenario (JSON) merged over the generated one, key by key. The
distribution's geometry settings (surrogate.distribution.Distribution fields,
config scenarios.distribution) come as JSON too. --family draws the boundaries'
structure from one family alone (a held-out family set), exactly as
`python -m surrogate generate --family` does.

    python workflow/scripts/scenario.py BASE.yaml --seed S --index I [--distribution JSON]
        [--family NAME] [--override JSON] -o OUT.yaml
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
    p.add_argument("--index", type=int, required=True, help="model number within the data set")
    p.add_argument("--fixed-layers", action="store_true", help="keep the base scenario's layer properties")
    p.add_argument("--distribution", default="{}", help="Distribution geometry settings (JSON)")
    p.add_argument("--family", help="draw the boundaries' structure from this family alone (held-out family set)")
    p.add_argument("--override", default="{}", help="partial scenario (JSON) merged over the generated one")
    p.add_argument("-o", "--output", type=Path, required=True, help="scenario file to write (YAML)")
    args = p.parse_args(argv)

    from fem.scenario import ScenarioError, parse_scenario
    from surrogate.errors import SurrogateInputError
    from surrogate.generate import write_text_atomic
    try:
        text = scenario_text(args.base.read_text(), args.seed, args.index, args.fixed_layers,
                             json.loads(args.override), json.loads(args.distribution), args.family)
        parse_scenario(text)  # refuse a broken override here, naming the key, not in the FEM run
    except (OSError, ScenarioError, SurrogateInputError, json.JSONDecodeError) as err:
        print(f"error: {args.output}: {err}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
