"""Time-dependent nodal loads as a fixed sparse pattern times a few time series.

Every load in this solver has that form: the incident plane wave (bottom
dashpot forcing times the incident velocity), the free-field forcing of the
lateral boundaries (dashpot and traction matrices times the 1D column's
velocity and stress at the boundary nodes), and the point source (a nodal
moment pattern times the source time function).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class LoadHistory:
    pattern: sp.csr_matrix  #: (n_local_dofs, m) nodal force per unit of each series, N per unit
    series: np.ndarray      #: (m, n_times) value of each series at each step time t_k = k*dt

    def force(self, k: int) -> np.ndarray:
        """(n_local_dofs,) this rank's local contribution at step k (not yet summed over ranks)."""
        return self.pattern @ self.series[:, k]

    @staticmethod
    def combine(loads: list["LoadHistory"], n_dofs: int, n_times: int) -> "LoadHistory":
        """One load for the sum of several."""
        if not loads:
            return LoadHistory(sp.csr_matrix((n_dofs, 0)), np.zeros((0, n_times)))
        return LoadHistory(sp.hstack([load.pattern for load in loads]).tocsr(),
                           np.concatenate([load.series for load in loads]))
