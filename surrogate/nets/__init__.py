"""Small networks for the four tasks; `build_network` is the one place a task picks its network.

torch is imported only when a network is built: inference of the MLPs runs in
numpy (surrogate.nets.mlp_numpy), and `predict` should not pay torch's import.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

#: tasks whose network is the MLP (the rest: the U-Net)
MLP_TASKS = ("inverse_pointwise", "forward")


@dataclass(frozen=True)
class NetworkSpec:
    task: str                        #: one of surrogate.features.TASKS
    n_inputs: int                    #: features (MLP) or channels (U-Net) in
    n_outputs: int                   #: values (MLP) or channels (U-Net) out
    hidden: tuple[int, ...] = (256, 256, 256)   #: MLP hidden widths
    width: int = 32                  #: U-Net channels at full resolution
    levels: int = 2                  #: U-Net down-sampling steps
    lift: tuple[int, ...] = ()       #: U-Net: hidden widths of the per-station lift (1 x 1 convolutions) before it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NetworkSpec":
        return cls(**{**d, "hidden": tuple(d["hidden"]), "lift": tuple(d.get("lift", ()))})


def build_network(spec: NetworkSpec):
    """The torch module for spec.task: an MLP for MLP_TASKS, else a U-Net over the station grid."""
    if spec.task in MLP_TASKS:
        from surrogate.nets.mlp import MLP
        return MLP(spec.n_inputs, spec.n_outputs, spec.hidden)
    from surrogate.nets.unet import UNet
    return UNet(spec.n_inputs, spec.n_outputs, spec.width, spec.levels, spec.lift)
