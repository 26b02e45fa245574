"""The trained-network file (numpy, no pickle) and the MLP evaluated from it in numpy, against torch."""
import json
import math

import numpy as np
import pytest
import torch

from surrogate.errors import SurrogateInputError
from surrogate.inference import load_trained
from surrogate.modelfile import ARRAYS, ModelFile, read_meta, read_model, write_model
from surrogate.nets import NetworkSpec, build_network
from surrogate.nets.mlp_numpy import gelu, linear_layers, mlp_forward
from surrogate.normalise import revert, standardise


def test_gelu_is_as_close_to_the_exact_gelu_as_torchs_float32_one():
    x = np.linspace(-6.0, 6.0, 20001, dtype=np.float32)
    exact = np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype(np.float64)])
    ours = gelu(x)
    with torch.no_grad():
        theirs = torch.nn.functional.gelu(torch.from_numpy(x)).numpy()
    assert ours.dtype == np.float32
    # torch's float32 GELU is 3.6e-7 from the exact one on one CPU, 9.7e-7 on another (its vectorised erf
    # differs by instruction set): ours is held to the better figure, torch's only to float32 accuracy
    assert np.abs(ours - exact).max() <= 4.5e-7 and np.abs(theirs - exact).max() <= 2e-6
    np.testing.assert_allclose(ours[x > 0.5], exact[x > 0.5], rtol=3e-7)     # relative where it is not small


@pytest.mark.parametrize("hidden", [(7,), (32, 64, 16)])
def test_numpy_mlp_equals_the_torch_mlp(hidden):
    torch.manual_seed(1)
    net = build_network(NetworkSpec("forward", 11, 9, hidden)).eval()
    with torch.no_grad():                                    # weights of a trained size: not all near zero
        for p in net.parameters():
            p.mul_(3.0)
    x = np.random.default_rng(2).normal(size=(500, 11)).astype(np.float32) * 2.0
    with torch.no_grad():
        reference = net(torch.from_numpy(x)).numpy()
    weights = {k: v.numpy() for k, v in net.state_dict().items()}
    out = mlp_forward(linear_layers(weights), x)
    assert out.dtype == np.float32 and out.shape == reference.shape
    assert np.abs(out - reference).max() <= 2e-6 * np.abs(reference).max()


def _model_file(task="forward", n_in=5, n_out=6, lift=()) -> tuple[ModelFile, torch.nn.Module]:
    spec = NetworkSpec(task, n_in, n_out, (8, 8), width=4, levels=1, lift=lift)
    torch.manual_seed(0)
    net = build_network(spec).eval()
    rng = np.random.default_rng(0)
    arrays = {"frequency": np.linspace(0.5, 4.0, 8), "time": np.arange(3) * 0.02, "station_xy": rng.uniform(size=(4, 2)),
              "input_norm/mean": rng.normal(size=n_in), "input_norm/std": rng.uniform(1, 2, n_in),
              "target_norm/mean": rng.normal(size=n_out), "target_norm/std": rng.uniform(0.01, 0.02, n_out)}
    meta = {"spec": spec.to_dict(), "grid": [2, 2], "source": "type: plane_wave\n", "best_val": 0.125,
            "step": 40, "epoch": 2, "n_boundaries": 2}
    return ModelFile(meta, arrays, {k: v.numpy() for k, v in net.state_dict().items()}), net


@pytest.mark.parametrize("task, x_shape, lift", [("forward", (30, 5), ()), ("inverse_pointwise", (30, 5), ()),
                                                 ("inverse_spatial", (3, 5, 4, 3), ()),
                                                 ("inverse_spatial", (3, 5, 4, 3), (16, 8))])
def test_model_file_round_trip_and_inference_equal_to_the_torch_network(tmp_path, task, x_shape, lift):
    original, net = _model_file(task, lift=lift)
    write_model(tmp_path / "model.npz", original)
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]      # the temporary file is gone
    back = read_model(tmp_path / "model.npz")
    assert back.meta == json.loads(json.dumps(original.meta)) == read_meta(tmp_path / "model.npz")   # JSON: lists
    for k in ARRAYS:
        np.testing.assert_array_equal(back.arrays[k], original.arrays[k])
    assert list(back.weights) == list(original.weights)
    for k, v in original.weights.items():
        np.testing.assert_array_equal(back.weights[k], v)
    trained = load_trained(tmp_path / "model.npz")
    assert trained.spec.lift == lift
    x = np.random.default_rng(3).normal(size=x_shape) * 2.0
    with torch.no_grad():
        z = net(torch.from_numpy(standardise(x, trained.input_norm))).numpy()
    expected = revert(z, trained.target_norm)
    np.testing.assert_allclose(trained(x), expected, rtol=0, atol=2e-6 * np.abs(expected).max())
    np.testing.assert_array_equal(trained.input_norm.mean, original.arrays["input_norm/mean"])
    np.testing.assert_array_equal(trained.target_norm.std, original.arrays["target_norm/std"])


def test_anything_but_a_model_file_is_one_clear_line(tmp_path):
    torch.save({"model": {}}, tmp_path / "old.npz")                 # a torch pickle: also a zip archive
    (tmp_path / "cut.npz").write_bytes(b"PK\x03\x04 truncated")
    write_model(tmp_path / "good.npz", _model_file()[0])
    (tmp_path / "half.npz").write_bytes((tmp_path / "good.npz").read_bytes()[:2000])
    for name in ("old.npz", "cut.npz", "half.npz"):
        with pytest.raises(SurrogateInputError, match="not a trained-network file written by `train`"):
            read_model(tmp_path / name)
    with pytest.raises(SurrogateInputError, match="trained network not found"):
        read_model(tmp_path / "missing.npz")
