"""The training loss's channel weights (surrogate.train.loss_weight)."""
import numpy as np
import pytest
import torch

from surrogate.errors import SurrogateInputError
from surrogate.normalise import Normaliser
from surrogate.train import TrainConfig, loss_weight


@pytest.mark.parametrize("task, shape", [("inverse_pointwise", (50, 2)), ("inverse_spatial", (6, 2, 4, 5))])
def test_metres_loss_is_the_squared_error_in_metres(task, shape):
    rng = np.random.default_rng(0)
    norm = Normaliser(np.array([15.0, 40.0]), np.array([3.0, 9.0]))
    per_channel = (1, 2, *[1] * (len(shape) - 2))
    mean, std = norm.mean.reshape(per_channel), norm.std.reshape(per_channel)
    truth, pred = rng.normal(size=shape), rng.normal(size=shape)          # standardised
    w = loss_weight(TrainConfig(task=task, loss="metres"), norm, len(shape))
    weighted = torch.mean(w * (torch.from_numpy(pred) - torch.from_numpy(truth)) ** 2).item()
    metres = np.mean(((pred * std + mean) - (truth * std + mean)) ** 2)
    assert weighted == pytest.approx(metres / np.mean(norm.std ** 2), rel=1e-6)
    # the standardised loss weighs boundary 1/2 (std 3 m) nine times as much per metre as boundary 2/3
    plain = loss_weight(TrainConfig(task=task, loss="standardised"), norm, len(shape))
    assert torch.mean(plain * (torch.from_numpy(pred) - torch.from_numpy(truth)) ** 2).item() == pytest.approx(
        np.mean((pred - truth) ** 2))


def test_unknown_or_misplaced_loss_is_refused():
    norm = Normaliser(np.zeros(2), np.ones(2))
    with pytest.raises(SurrogateInputError, match="unknown loss 'huber'"):
        loss_weight(TrainConfig(task="inverse_spatial", loss="huber"), norm, 4)
    with pytest.raises(SurrogateInputError, match="for the inverse tasks"):
        loss_weight(TrainConfig(task="forward_spatial", loss="metres"), norm, 4)
