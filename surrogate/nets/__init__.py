"""Small networks for the three tasks; `build_network` is the one place a task picks its network."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from surrogate.nets.mlp import MLP
from surrogate.nets.unet import UNet


@dataclass(frozen=True)
class NetworkSpec:
    task: str                        #: one of surrogate.features.TASKS
    n_inputs: int                    #: features (MLP) or channels (U-Net) in
    n_outputs: int                   #: values (MLP) or channels (U-Net) out
    hidden: tuple[int, ...] = (256, 256, 256)   #: MLP hidden widths
    width: int = 32                  #: U-Net channels at full resolution
    levels: int = 2                  #: U-Net down-sampling steps

    def to_dict(self) -> dict:
        return asdict(self)


def build_network(spec: NetworkSpec) -> nn.Module:
    """The network for spec.task: a U-Net over the station grid for inverse_spatial, else an MLP."""
    if spec.task == "inverse_spatial":
        return UNet(spec.n_inputs, spec.n_outputs, spec.width, spec.levels)
    return MLP(spec.n_inputs, spec.n_outputs, spec.hidden)
