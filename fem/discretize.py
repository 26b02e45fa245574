"""This rank's share of the discrete system: mass, damping, stiffness and the Newmark step matrix.

Each rank assembles from its own cells only, in its local node numbering; the
halo sums the ranks' contributions (hpc.DistributedMatrix). Damping is
Rayleigh per cell (alpha_e M_e + beta_e K_e) plus the Lysmer-Kuhlemeyer
dashpots on the lateral and bottom faces: rho*Vp on the normal component and
rho*Vs on the tangential ones.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fem.assembly import assemble, face_matrix, mass_matrices, stiffness_matrices
from fem.boundary import BOTTOM, X0, X1, Y0, Y1
from fem.materials import CellMaterial

#: the normal axis of each absorbing side (x0, x1 -> x; y0, y1 -> y; bottom -> z)
SIDE_NORMAL_AXIS = {X0: 0, X1: 0, Y0: 1, Y1: 1, BOTTOM: 2}


@dataclass(frozen=True)
class LocalSystem:
    mass: sp.csr_matrix       #: (n_local_dofs, n_local_dofs) consistent mass, kg
    stiffness: sp.csr_matrix  #: stiffness, N/m
    damping: sp.csr_matrix    #: Rayleigh + boundary dashpots, N*s/m


def dashpot_coefficients(face_side: np.ndarray, vp: np.ndarray, vs: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """(F, 3) dashpot impedance per face and component: rho*Vp normal, rho*Vs tangential (0 on the free surface)."""
    coef = np.zeros((len(face_side), 3))
    for code, axis in SIDE_NORMAL_AXIS.items():
        on = face_side == code
        coef[on] = (rho * vs)[on, None]
        coef[on, axis] = (rho * vp)[on]
    return coef


def assemble_local(points: np.ndarray, cells: np.ndarray, material: CellMaterial,
                   faces: np.ndarray, face_side: np.ndarray, face_vp: np.ndarray, face_vs: np.ndarray,
                   face_rho: np.ndarray) -> LocalSystem:
    """Local matrices of one rank. faces: (F, 3|6) boundary triangles of this rank's cells (local numbering)."""
    n = len(points)
    Ke = stiffness_matrices(points, cells, material.lam, material.mu)
    Me = mass_matrices(points, cells, material.rho)
    K = assemble(cells, Ke, n)
    M = assemble(cells, Me, n)
    rayleigh = assemble(cells, material.alpha[:, None, None] * Me + material.beta[:, None, None] * Ke, n)
    absorbing = face_matrix(points, faces, dashpot_coefficients(face_side, face_vp, face_vs, face_rho), n)
    return LocalSystem(M, K, (rayleigh + absorbing).tocsr())
