"""Wavefield snapshots for ParaView: the velocity at every node every `output.snapshots` seconds.

Each snapshot is gathered to rank 0 (hpc.distributed.gather_global) and kept
there in float32 until the run ends, when the mesh and all snapshots are
written as XDMF+HDF5 (fem.xdmf). Memory on rank 0: 12 bytes per node per
snapshot (1 M nodes x 100 snapshots = 1.2 GB), so choose the interval with the
mesh size in mind. Nothing is gathered when no snapshot file was asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fem.mesh import Mesh
from hpc.distributed import gather_global
from hpc.layout import LocalLayout


def snapshot_steps(every: float, dt: float, n_steps: int) -> np.ndarray:
    """(S,) int64 ascending time-step indices at which to take a snapshot.

    every > 0: the steps nearest to 0, every, 2 every, ... <= n_steps dt (s).
    every <= 0 (output.snapshots unset): the last step only, one picture of the
    wavefield at the end of the run."""
    if every <= 0.0:
        return np.array([n_steps], dtype=np.int64)
    times = np.arange(int(np.floor(n_steps * dt / every + 1e-9)) + 1) * every
    return np.unique(np.minimum(np.rint(times / dt).astype(np.int64), n_steps))


@dataclass
class SnapshotRecorder:
    """Collects the nodal velocity at the scheduled steps (collective: every rank calls record)."""
    steps: np.ndarray            #: (S,) int64 step indices to record, ascending
    dt: float                    #: time step, s
    fields: list = field(default_factory=list)  #: on rank 0: (n_nodes, 3) float32 velocity per snapshot, m/s
    taken: list = field(default_factory=list)   #: step indices recorded so far
    comm: object = None          #: communicator of the run (set by start)
    layout: LocalLayout | None = None  #: this rank's owned/ghost nodes, the numbering of the velocity vectors

    @classmethod
    def every(cls, seconds: float, dt: float, n_steps: int) -> "SnapshotRecorder":
        """A recorder for snapshots every `seconds` (<= 0: the last step only) of a run of n_steps x dt."""
        return cls(snapshot_steps(seconds, dt, n_steps), dt)

    def start(self, comm, layout: LocalLayout) -> None:
        """Bind to the run's communicator and this rank's layout (before the first record)."""
        self.comm, self.layout = comm, layout
        self.fields, self.taken = [], []

    def record(self, step: int, velocity: np.ndarray) -> None:
        """Gather the complete local velocity (3 n_local,) at `step` if it is scheduled."""
        if step not in self.steps:
            return
        full = gather_global(self.comm, self.layout, velocity.reshape(-1, 3))
        self.taken.append(step)
        if full is not None:
            self.fields.append(full.astype(np.float32))

    def write(self, path: str, mesh: Mesh) -> None:
        """Write mesh + snapshots as XDMF (path) and HDF5 (its .h5 sibling); call on rank 0 only."""
        from fem.xdmf import write_xdmf
        times = np.asarray(self.taken, dtype=np.float64) * self.dt
        write_xdmf(path, mesh, snapshots={"velocity": np.stack(self.fields)}, times=times)
