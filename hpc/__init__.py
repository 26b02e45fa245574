"""Physics-free parallel layer: mesh partitioning, halo exchange, distributed linear algebra.

Nothing here knows about elasticity; it works on any tetrahedral cell array
and any sparse matrix assembled per rank from that rank's cells.
"""
from .distributed import DistributedMatrix, dot, gather_global
from .halo import Halo
from .krylov import CGResult, block_jacobi, jacobi, pcg
from .layout import LocalLayout, local_layout, node_owner
from .partition import dual_graph, partition_cells

__all__ = [
    "CGResult", "DistributedMatrix", "Halo", "LocalLayout", "block_jacobi", "dot",
    "dual_graph", "gather_global", "jacobi", "local_layout", "node_owner", "partition_cells",
    "pcg",
]
