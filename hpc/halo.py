"""Exchange of shared-node values between neighbouring ranks.

The pattern (who sends which entries to whom) is built once; every exchange
afterwards is one call that packs into preallocated buffers, starts persistent
MPI requests and unpacks, with no allocation. The two operations follow
DOLFINx' names:

* ``forward``     (scatter forward): owners' values overwrite the ghost copies;
* ``reverse_add`` (scatter reverse): ghost contributions are added into the
  owners' entries.

Vectors are node-major with ``block`` values per node, flat
``(n_local*block,)`` (dof = block*local_node + component) or ``(n_local, block)``,
float64 and C-contiguous, in the local numbering of hpc.layout (owned first).
"""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

from .layout import LocalLayout

_TAG_FORWARD = 101
_TAG_REVERSE = 102


def _dofs(nodes: np.ndarray, block: int) -> np.ndarray:
    """(len(nodes)*block,) intp dof indices of the given local nodes, node-major."""
    return (nodes[:, None].astype(np.intp) * block + np.arange(block, dtype=np.intp)).ravel()


class Halo:
    """Ghost exchange for one rank, built once from the local layout.

    comm: the communicator of the partition (duplicated internally so halo
    messages never match the caller's). nodes: (n_local,) global ids, owned
    first; n_owned: number of owned nodes; owner: (n_local,) owning rank of
    each local node; block: values per node (3 for displacement dofs).
    Collective: every rank of comm must construct its Halo together.
    """

    def __init__(self, comm: MPI.Comm, nodes: np.ndarray, n_owned: int, owner: np.ndarray,
                 block: int = 3):
        nodes = np.asarray(nodes, dtype=np.int64)
        owner = np.asarray(owner)
        self.comm = comm.Dup()
        self.block = int(block)
        self.n_local = int(nodes.size)
        self.n_owned = int(n_owned)
        rank, size = self.comm.Get_rank(), self.comm.Get_size()
        ghost_owner = owner[self.n_owned:].astype(np.int64)
        _raise_on_any_rank(self.comm, owner.shape != nodes.shape or np.any(owner[:self.n_owned] != rank)
                           or np.any(ghost_owner == rank) or np.any((ghost_owner < 0) | (ghost_owner >= size)),
                           "owner must be this rank on owned nodes and another rank on ghosts")

        # ghosts grouped by owner; stable sort keeps ascending global ids inside a group
        ghost_local = self.n_owned + np.argsort(ghost_owner, kind="stable")
        n_requested = np.bincount(ghost_owner, minlength=size).astype(np.int64)
        n_granted = np.empty(size, dtype=np.int64)
        self.comm.Alltoall(n_requested, n_granted)
        requested_ids = np.ascontiguousarray(nodes[ghost_local])
        granted_ids = np.empty(int(n_granted.sum()), dtype=np.int64)
        self.comm.Alltoallv([requested_ids, (n_requested, _offsets(n_requested)), MPI.INT64_T],
                            [granted_ids, (n_granted, _offsets(n_granted)), MPI.INT64_T])
        owned_ids = nodes[:self.n_owned]
        granted_local = np.searchsorted(owned_ids, granted_ids)
        _raise_on_any_rank(self.comm, granted_ids.size > 0 and (
            np.any(granted_local >= self.n_owned)
            or np.any(owned_ids[np.minimum(granted_local, self.n_owned - 1)] != granted_ids)),
            "a rank holds a ghost whose owner does not own it: layouts disagree")

        b = self.block
        self._ghost_dofs = _dofs(ghost_local, b)      # where received owner values land
        self._shared_dofs = _dofs(granted_local, b)   # owned entries other ranks hold as ghosts
        self._ghost_buf = np.zeros(self._ghost_dofs.size)
        self._shared_buf = np.zeros(self._shared_dofs.size)
        ghost_off, shared_off = _offsets(n_requested) * b, _offsets(n_granted) * b
        self.ghost_sources = [int(r) for r in np.flatnonzero(n_requested)]  # ranks owning my ghosts
        self.shared_targets = [int(r) for r in np.flatnonzero(n_granted)]   # ranks ghosting my nodes
        ghost_views = [self._ghost_buf[ghost_off[r]:ghost_off[r] + b * n_requested[r]]
                       for r in self.ghost_sources]
        shared_views = [self._shared_buf[shared_off[r]:shared_off[r] + b * n_granted[r]]
                        for r in self.shared_targets]
        self._shared_slices = [slice(shared_off[r], shared_off[r] + b * n_granted[r])
                               for r in self.shared_targets]
        c = self.comm
        # receives first in each list so that they are posted before the sends start
        self._forward_requests = (
            [c.Recv_init([v, MPI.DOUBLE], r, _TAG_FORWARD) for v, r in zip(ghost_views, self.ghost_sources)]
            + [c.Send_init([v, MPI.DOUBLE], r, _TAG_FORWARD) for v, r in zip(shared_views, self.shared_targets)])
        self._reverse_requests = (
            [c.Recv_init([v, MPI.DOUBLE], r, _TAG_REVERSE) for v, r in zip(shared_views, self.shared_targets)]
            + [c.Send_init([v, MPI.DOUBLE], r, _TAG_REVERSE) for v, r in zip(ghost_views, self.ghost_sources)])
        self._views = ghost_views + shared_views  # the persistent requests point into these

    @classmethod
    def from_layout(cls, comm: MPI.Comm, layout: LocalLayout, block: int = 3) -> "Halo":
        """The halo of a LocalLayout (collective over comm)."""
        return cls(comm, layout.nodes, layout.n_owned, layout.owner, block)

    @property
    def n_owned_dofs(self) -> int:
        """Owned entries of a vector: the slice [:n_owned_dofs] of a flat vector."""
        return self.n_owned * self.block

    @property
    def n_local_dofs(self) -> int:
        """Owned plus ghost entries of a flat vector."""
        return self.n_local * self.block

    def forward(self, x: np.ndarray) -> None:
        """Overwrite every ghost entry of x, in place, with its owner's value."""
        flat = self._flat(x)
        np.take(flat, self._shared_dofs, out=self._shared_buf)
        if self._forward_requests:
            MPI.Prequest.Startall(self._forward_requests)
            MPI.Request.Waitall(self._forward_requests)
        flat[self._ghost_dofs] = self._ghost_buf

    def reverse_add(self, x: np.ndarray) -> None:
        """Add every ghost entry of x, in place, into the owner's entry.

        After the call the owned entries hold the sum over all ranks; the ghost
        entries are left unchanged (still this rank's partial values): call
        forward() to make them equal to the summed values.
        """
        self.reverse_add_begin(x)
        self.reverse_add_end(x)

    def reverse_add_begin(self, x: np.ndarray) -> None:
        """First half of reverse_add: send the ghost entries (they may change afterwards).

        Work on entries other than the owned shared ones can overlap the
        messages until reverse_add_end(x), which must follow before any other
        exchange of this halo.
        """
        np.take(self._flat(x), self._ghost_dofs, out=self._ghost_buf)
        if self._reverse_requests:
            MPI.Prequest.Startall(self._reverse_requests)

    def reverse_add_end(self, x: np.ndarray) -> None:
        """Second half of reverse_add: wait, then add the received values into the owners."""
        flat = self._flat(x)
        if self._reverse_requests:
            MPI.Request.Waitall(self._reverse_requests)
        # one owned node may be ghosted by several ranks: add rank by rank, where indices are unique
        for s in self._shared_slices:
            flat[self._shared_dofs[s]] += self._shared_buf[s]

    def free(self) -> None:
        """Release the persistent requests and the duplicated communicator (collective)."""
        for req in self._forward_requests + self._reverse_requests:
            req.Free()
        self._forward_requests, self._reverse_requests = [], []
        self.comm.Free()

    def _flat(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype != np.float64 or not x.flags.c_contiguous:
            raise TypeError("halo vectors must be C-contiguous float64 numpy arrays")
        if x.size != self.n_local * self.block:
            raise ValueError(f"vector has {x.size} entries, the halo expects "
                             f"{self.n_local} nodes x {self.block}")
        return x.reshape(-1)


def _offsets(counts: np.ndarray) -> np.ndarray:
    """(len(counts),) int64 exclusive prefix sum: where each rank's segment starts."""
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _raise_on_any_rank(comm: MPI.Comm, failed: bool, message: str) -> None:
    """Raise ValueError on every rank when the check failed on any, so no rank waits forever."""
    if comm.allreduce(bool(failed), op=MPI.LOR):
        raise ValueError(message + ("" if failed else " (detected on another rank)"))
