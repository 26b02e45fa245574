"""Moment-tensor point source.

The equivalent body force is f_i = -M_ij d_j delta(x - x_s) s(t) (Aki & Richards
sign), so on the test function N_a it loads node a, component i, with
M_ij dN_a/dx_j (x_s) s(t): the shape-function gradients of the cell holding
the source, at the source point.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import erf

from fem.geometry import locate_points
from fem.loads import LoadHistory
from fem.scenario import MomentTensorSource, TimeFunction
from fem.shape import tet_shape


def moment_function(tf: TimeFunction, t: np.ndarray) -> np.ndarray:
    """Normalised moment history s(t) = M(t)/M0, rising from 0 to 1."""
    t = np.asarray(t, float)
    if tf.type == "brune":
        tau = np.maximum(t - tf.t0, 0.0) / tf.rise_time
        return np.where(t >= tf.t0, 1.0 - (1.0 + tau) * np.exp(-tau), 0.0)
    if tf.type == "smooth_step":
        return 0.5 * (1.0 + erf((t - tf.t0) / tf.rise_time))
    raise ValueError(f"unknown source time function {tf.type!r}")


def source_cell(points: np.ndarray, cells: np.ndarray, source: MomentTensorSource) -> tuple[int, np.ndarray]:
    """(cell index, reference coordinates (3,)) of the cell holding the source; ValueError if outside."""
    try:
        cell, xi = locate_points(points, cells, source.position[None])
    except ValueError:
        raise ValueError(f"source.position {source.position.tolist()} lies outside the meshed model") from None
    return int(cell[0]), xi[0]


def moment_tensor_load(points: np.ndarray, cell_nodes: np.ndarray, xi: np.ndarray,
                       source: MomentTensorSource, t: np.ndarray, n_dofs: int) -> LoadHistory:
    """The source as a load on the nodes `cell_nodes` (local numbering) of its cell.

    points: local node coordinates; xi: the source's reference coordinates in that cell."""
    order = {4: 1, 10: 2}[len(cell_nodes)]
    _, dN = tet_shape(order, xi[None])
    X = points[cell_nodes]
    J = np.einsum("ai,aj->ij", X, dN[0])            # dx_i/dxi_j
    grad = dN[0] @ np.linalg.inv(J)                 # (n, 3) dN_a/dx_j
    nodal = grad @ source.tensor.T                  # (n, 3): sum_j M_ij dN_a/dx_j
    rows = (3 * cell_nodes[:, None] + np.arange(3)).ravel()
    pattern = sp.csr_matrix((nodal.ravel(), (rows, np.zeros(rows.size, int))), shape=(n_dofs, 1))
    return LoadHistory(pattern, moment_function(source.time_function, t)[None])
