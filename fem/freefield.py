"""The vertically incident plane wave as loads: bottom input and free-field lateral boundaries.

Bottom (z = z_bottom): a Lysmer dashpot with the incident wave fed through
it, traction rho*c*(2 v_inc - v), c = Vs for x/y and Vp for z. The dashpot
part -rho*c*v lives in the damping matrix; the load is rho*c*2 v_inc.

Sides (x0, x1, y0, y1): a plain dashpot would absorb part of the incident wave
itself. Instead each side node carries the free field of the 1D layered column
beneath it (fem.exact.column, with the same Rayleigh damping as the 3D model):
traction t = sigma_ff . n + C (v_ff - v). The -C v part is the damping
matrix's dashpot; the load is C v_ff + T sigma_ff. For flat layers the 3D
field then equals the 1D field everywhere, edges included, because the side
tractions are exactly those the neighbouring (absent) soil would exert.

Free-field tractions on a side with outward normal n (1D field u_c(z)):
S wave along c = x or y: sigma_cz n_c on the z component (faces normal to c).
P wave (c = z): sigma_xx = lambda/(lambda + 2 mu) sigma_zz on x-faces, the same
sigma_yy on y-faces. sigma_cz and sigma_zz are continuous across layer
boundaries, so they are interpolated from nodes, and the layer-dependent
factor lambda/(lambda + 2 mu) sits in the face matrix.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from fem.assembly import face_matrix
from fem.boundary import BOTTOM, X0, X1, Y0, Y1
from fem.discretize import SIDE_NORMAL_AXIS, dashpot_coefficients
from fem.exact.column import Column, Columns, columns_response
from fem.exact.wavelets import ricker
from fem.loads import LoadHistory
from fem.model import GroundModel
from fem.scenario import PlaneWave

COMPONENT_AXIS = {"x": 0, "y": 1, "z": 2}
OUTWARD_SIGN = {X0: -1.0, X1: 1.0, Y0: -1.0, Y1: 1.0}


def incident_velocity(source: PlaneWave, t: np.ndarray) -> np.ndarray:
    """Upgoing incident particle velocity at z_bottom, m/s."""
    w = source.wavelet
    return ricker(t, w.f0, w.t0, w.amplitude)


def column_at(model: GroundModel, rayleigh: np.ndarray, x: float, y: float) -> Column:
    """The 1D layered column below (x, y), over the elastic halfspace continuing the last layer."""
    return columns_at(model, rayleigh, np.array([x], dtype=float), np.array([y], dtype=float))[0]


def columns_at(model: GroundModel, rayleigh: np.ndarray, x: np.ndarray, y: np.ndarray) -> Columns:
    """The 1D layered columns below the points (x, y), each (C,): one family, shared materials."""
    elev = np.vstack([model.elevations(x, y), np.full((1, len(x)), model.z_bottom)]).T    # (C, L + 1)
    last = model.layers[-1]
    return Columns(thickness=elev[:, :-1] - elev[:, 1:],
                   vp=[l.vp for l in model.layers], vs=[l.vs for l in model.layers],
                   rho=[l.rho for l in model.layers], alpha=rayleigh[:, 0], beta=rayleigh[:, 1],
                   halfspace=(last.vp, last.vs, last.rho), z_top=elev[:, 0])


def free_field(model: GroundModel, rayleigh: np.ndarray, component: str, v_inc: np.ndarray, dt: float,
               xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(velocity, sigma_zc), each (N, T), of the 1D column response at points xyz (N, 3).

    Each distinct (x, y) of a laterally varying model is its own column (on an
    unstructured mesh nearly every side node); all are computed in one batched
    call. Columns that are the same (flat layers) are computed once.
    """
    key = np.round(model.elevations(xyz[:, 0], xyz[:, 1]).T, 6)      # (N, n_surfaces), micrometres
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    columns = columns_at(model, rayleigh, xyz[first, 0], xyz[first, 1])
    z = np.minimum(xyz[:, 2], columns.z_top[inverse])
    response = columns_response(columns, component, v_inc, dt, z, inverse)
    return response.velocity, response.stress


def _traction_coefficients(component: str, side: np.ndarray, lam_ratio: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(F, 3) face coefficients of the free-field traction and the components the nodal stress enters."""
    coef = np.zeros((len(side), 3))
    axis = COMPONENT_AXIS[component]
    for code, sign in OUTWARD_SIGN.items():
        on = side == code
        normal = SIDE_NORMAL_AXIS[code]
        if component == "z":
            coef[on, normal] = sign * lam_ratio[on]      # sigma_xx or sigma_yy from sigma_zz
        elif normal == axis:
            coef[on, 2] = sign                           # sigma_zc on the z component
    return coef, ((0, 1) if component == "z" else (2,))


def plane_wave_load(model: GroundModel, rayleigh: np.ndarray, source: PlaneWave, t: np.ndarray,
                    points: np.ndarray, faces: np.ndarray, side: np.ndarray, face_layer: np.ndarray,
                    n_dofs: int) -> LoadHistory:
    """Loads of the incident plane wave on this rank's boundary faces (local numbering)."""
    dt = float(t[1] - t[0])
    n_nodes = len(points)
    c = COMPONENT_AXIS[source.component]
    v_inc = incident_velocity(source, t)
    vp, vs, rho = (model.property_at(k, face_layer) for k in ("vp", "vs", "rho"))
    dashpot = dashpot_coefficients(side, vp, vs, rho)

    bottom = side == BOTTOM
    unit = np.zeros(n_dofs)
    unit[c::3] = 1.0
    bottom_pattern = face_matrix(points, faces[bottom], dashpot[bottom], n_nodes) @ unit

    lateral = np.isin(side, list(OUTWARD_SIGN))
    nodes = np.unique(faces[lateral])
    v_ff, s_ff = free_field(model, rayleigh, source.component, v_inc, dt, points[nodes])
    C_side = face_matrix(points, faces[lateral], dashpot[lateral], n_nodes).tocsc()
    lam, mu = model.property_at("lam", face_layer[lateral]), model.property_at("mu", face_layer[lateral])
    coef, stress_components = _traction_coefficients(source.component, side[lateral], lam / (lam + 2 * mu))
    T_side = face_matrix(points, faces[lateral], coef, n_nodes).tocsc()
    velocity_pattern = C_side[:, 3 * nodes + c]
    stress_pattern = sum(T_side[:, 3 * nodes + k] for k in stress_components)

    pattern = sp.hstack([sp.csr_matrix(bottom_pattern[:, None]), velocity_pattern, stress_pattern]).tocsr()
    series = np.concatenate([2.0 * v_inc[None], v_ff, s_ff])
    return LoadHistory(pattern, series)
