"""The batched free field equals the column-by-column one.

free_field computes every side-node column of a laterally varying model in
one call (fem.exact.column.columns_response: shared per-layer constants, one
sublayer split per family, batched FFTs). Each point must get what its own
column gives alone (column_response), to round-off: that is the 1D reference
the free-field boundary is verified against.
"""
from pathlib import Path

import numpy as np
import pytest

from fem.exact.column import Column, Columns, column_response, columns_response
from fem.freefield import column_at, free_field, incident_velocity
from fem.materials import layer_rayleigh
from fem.scenario import parse_scenario
from surrogate.distribution import Distribution
from surrogate.generate import draw_ground_model

BENCHMARK = Path(__file__).resolve().parents[1] / "config" / "scenarios" / "benchmark.yaml"
RTOL = 1e-12


def close_rows(new, reference):
    """Largest row-wise difference relative to the row's peak (the array's peak for rows at rest)."""
    scale = np.maximum(np.abs(reference).max(axis=1), 1e-3 * np.abs(reference).max())
    return (np.abs(new - reference).max(axis=1) / scale).max()


def side_nodes(model, rng, n_per_side=40):
    """Points on the four lateral sides as a mesh has them: inside layers, on every interface and
    the ground surface, at the corners, several at one (x, y), and at the bottom."""
    (x0, x1), (y0, y1) = model.x, model.y
    s = rng.uniform(0.0, 1.0, n_per_side)
    xy = np.concatenate([np.c_[np.full_like(s, x0), y0 + s * (y1 - y0)],
                         np.c_[np.full_like(s, x1), y0 + s * (y1 - y0)],
                         np.c_[x0 + s * (x1 - x0), np.full_like(s, y0)],
                         np.c_[x0 + s * (x1 - x0), np.full_like(s, y1)],
                         [[x0, y0], [x1, y0], [x0, y1], [x1, y1]]])
    elev = np.vstack([model.elevations(xy[:, 0], xy[:, 1]), np.full(len(xy), model.z_bottom)])
    inside = elev[0] + rng.uniform(0.0, 1.0, len(xy)) * (elev[-1] - elev[0])
    z = np.concatenate([inside, *elev, inside[:10]])            # interfaces, surface and bottom exactly
    xy = np.concatenate([xy] * (len(elev) + 1) + [xy[:10]])
    return np.c_[xy, z]


@pytest.fixture(scope="module")
def drawn():
    sc = parse_scenario(BENCHMARK.read_text())
    dist = Distribution().with_fixed_layers(sc.model.layers)
    model = draw_ground_model(np.random.default_rng([7, 0]), dist, sc.model)
    return sc, model, layer_rayleigh(model, sc.solver.rayleigh_band)


@pytest.mark.parametrize("component", ["x", "z"])
def test_free_field_of_a_drawn_model_equals_the_column_by_column_loop(drawn, component):
    sc, model, rayleigh = drawn
    xyz = side_nodes(model, np.random.default_rng(3))
    t = sc.time.dt * np.arange(sc.time.n_steps + 1)
    v_inc = incident_velocity(sc.source, t)
    velocity, stress = free_field(model, rayleigh, component, v_inc, sc.time.dt, xyz)

    ref_v, ref_s = np.empty_like(velocity), np.empty_like(stress)
    for i, (x, y, z) in enumerate(xyz):
        column = column_at(model, rayleigh, x, y)
        r = column_response(column, component, v_inc, sc.time.dt, np.array([min(z, column.z_top)]))
        ref_v[i], ref_s[i] = r.velocity[0], r.stress[0]
    assert np.ptp(model.elevations(xyz[:, 0], xyz[:, 1]), axis=1).min() > 1.0     # laterally varying
    assert close_rows(velocity, ref_v) < RTOL
    assert close_rows(stress, ref_s) < RTOL


def test_a_family_split_for_its_thickest_column_equals_each_column_alone():
    """Strongly damped layers split into the pieces their thickest column needs; thinner columns
    then have more, thinner sublayers than alone, which changes only round-off."""
    rng = np.random.default_rng(5)
    thickness = rng.uniform(5.0, 40.0, (12, 3))
    thickness[0] = [600.0, 20.0, 1.0]                           # split in layer 0, unlike the others
    family = Columns(thickness=thickness, vp=[800.0, 1500.0, 2500.0], vs=[150.0, 600.0, 1200.0],
                     rho=[1700.0, 2000.0, 2300.0], alpha=[2.0, 0.5, 0.1], beta=[2e-3, 1e-3, 1e-4],
                     halfspace=(3000.0, 1500.0, 2400.0), z_top=rng.uniform(-5.0, 5.0, 12))
    dt = 0.004
    v_inc = np.exp(-((np.arange(300) * dt - 0.2) / 0.03) ** 2)
    column = np.repeat(np.arange(12), 6)
    interfaces = family.interfaces
    z = np.concatenate([np.r_[interfaces[c],                                    # surface, interfaces, bottom
                              rng.uniform(interfaces[c, -1], interfaces[c, 0]),   # inside
                              interfaces[c, -1] - 5.0] for c in range(12)])       # in the halfspace
    layer = family.layer_of(z, column)
    for component in ("x", "z"):
        batch = columns_response(family, component, v_inc, dt, z, column, layer)
        for c in range(12):
            rows = column == c
            alone = column_response(family[c], component, v_inc, dt, z[rows], layer[rows])
            assert isinstance(family[c], Column)
            assert close_rows(batch.velocity[rows], alone.velocity) < RTOL
            assert close_rows(batch.stress[rows], alone.stress) < RTOL
            assert close_rows(batch.strain[rows], alone.strain) < RTOL


def test_family_refuses_points_outside_their_columns():
    family = Columns(thickness=[[10.0, 20.0], [15.0, 5.0]], vp=[500.0, 900.0], vs=[200.0, 400.0],
                     rho=[1800.0, 2000.0], alpha=[0.1, 0.1], beta=[1e-3, 1e-3],
                     halfspace=(1200.0, 600.0, 2100.0), z_top=[0.0, 2.0])
    v_inc = np.zeros(50)
    with pytest.raises(ValueError):
        columns_response(family, "x", v_inc, 0.01, np.array([1.0]), np.array([0]))     # above z_top 0
    with pytest.raises(ValueError):
        columns_response(family, "x", v_inc, 0.01, np.array([-14.0]), np.array([1]), np.array([0]))
    with pytest.raises(ValueError):
        columns_response(family, "x", v_inc, 0.01, np.array([-12.0]), np.array([2]))
    assert np.array_equal(family.layer_of(np.array([-10.0, -10.0, -30.0]), np.array([0, 1, 0])), [0, 0, 1])
