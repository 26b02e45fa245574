"""The surrogate's views of a scenario: source comparison by value."""
from pathlib import Path

import pytest
import yaml

from surrogate.scenario import parse_scenario, same_source, source_text

TINY = (Path(__file__).resolve().parents[1] / "config" / "scenarios" / "tiny.yaml").read_text()
MOMENT = {"type": "moment_tensor", "position": [32.0, 32.0, -40.0], "tensor": {"mxy": 1.0e12},
          "time_function": {"type": "brune", "rise_time": 0.1}}


def with_source(source: dict) -> str:
    d = yaml.safe_load(TINY)
    d["source"] = source
    return yaml.safe_dump(d)


@pytest.mark.parametrize("source", [yaml.safe_load(TINY)["source"], MOMENT])
def test_a_source_equals_its_own_text_whatever_the_formatting(source):
    scenario = parse_scenario(with_source(source))
    assert same_source(scenario, source_text(scenario))
    reformatted = yaml.safe_dump(source, default_flow_style=True).replace("1000000000000.0", "1.0e+12")
    assert same_source(scenario, reformatted)


@pytest.mark.parametrize("path, value", [(("wavelet", "f0"), 1.0), (("component",), "y")])
def test_a_changed_plane_wave_is_another_source(path, value):
    source = yaml.safe_load(TINY)["source"]
    changed = yaml.safe_load(TINY)["source"]
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert not same_source(parse_scenario(with_source(changed)), yaml.safe_dump(source))


def test_a_changed_moment_tensor_is_another_source():
    moved = dict(MOMENT, position=[32.0, 32.0, -41.0])
    other_tensor = dict(MOMENT, tensor={"mxy": 1.0e12, "mzz": 1.0})
    text = yaml.safe_dump(MOMENT)
    assert same_source(parse_scenario(with_source(MOMENT)), text)
    for source in (moved, other_tensor, yaml.safe_load(TINY)["source"]):
        assert not same_source(parse_scenario(with_source(source)), text)
