"""The gmsh layered mesh: conformity to the model surfaces, volumes, layers, sizes, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from fem.layered_mesh import MeshError, build_layered_mesh, layer_sizes, mesh_size
from fem.mesh import Mesh
from fem.mesh_report import curved_cell_volumes, jacobian_ratio, mesh_report, radius_ratio
from fem.model import GroundModel, Layer, ModelError, Surface

BOX = ((0.0, 400.0), (0.0, 400.0))
SOFT, MEDIUM, STIFF = Layer(500.0, 150.0, 1700.0, 0.02), Layer(1200.0, 400.0, 1900.0, 0.01), \
    Layer(2000.0, 800.0, 2100.0, 0.005)


def surface(name: str, elevation) -> Surface:
    return Surface(name, np.atleast_2d(np.asarray(elevation, dtype=float)), *BOX)


def design_model() -> GroundModel:
    """DESIGN.md's three-layer example, with cubic topography on the ground surface."""
    ground = [[0.0, 3.0, 5.0, 2.0], [1.0, 6.0, 8.0, 3.0], [2.0, 5.0, 7.0, 4.0], [0.0, 2.0, 3.0, 1.0]]
    b23 = [[-50.0, -52.0, -55.0], [-48.0, -50.0, -53.0], [-45.0, -47.0, -50.0]]
    return GroundModel(*BOX, -120.0, (surface("ground", ground), surface("b12", -20.0), surface("b23", b23)),
                       (SOFT, MEDIUM, STIFF))


def flat_model() -> GroundModel:
    """Thick flat layers, so the wavelength (not the thickness cap) sets every layer's size."""
    return GroundModel(*BOX, -330.0, (surface("ground", 0.0), surface("b12", -60.0), surface("b23", -170.0)),
                       (Layer(600.0, 200.0, 1700.0, 0.02), Layer(1200.0, 400.0, 1900.0, 0.01),
                        Layer(1800.0, 600.0, 2100.0, 0.005)))


def exact_volume(model: GroundModel) -> float:
    """Volume between the ground spline and z_bottom: sum_ij c_ij * int B_i * int B_j, m^3."""
    b = model.surfaces[0].bspline
    int_x = (b.tx[b.kx + 1:] - b.tx[:-b.kx - 1]) / (b.kx + 1)
    int_y = (b.ty[b.ky + 1:] - b.ty[:-b.ky - 1]) / (b.ky + 1)
    area = (model.x[1] - model.x[0]) * (model.y[1] - model.y[0])
    return float(int_x @ b.coef @ int_y - model.z_bottom * area)


def cell_centres(mesh: Mesh) -> np.ndarray:
    """(n_cells, 3) image of the reference barycentre: N_vertex = -1/8, N_edge = 1/4 for order 2."""
    p = mesh.points[mesh.cells]
    if mesh.order == 1:
        return p.mean(axis=1)
    return -0.125 * p[:, :4].sum(axis=1) + 0.25 * p[:, 4:].sum(axis=1)


def boundary_faces(mesh: Mesh) -> np.ndarray:
    """(n_faces, 3) vertex triples of the faces that belong to exactly one cell."""
    faces = mesh.cells[:, [[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]].reshape(-1, 3)
    key = np.sort(faces, axis=1)
    unique, count = np.unique(key, axis=0, return_counts=True)
    return unique[count == 1]


@pytest.fixture(scope="module")
def design_meshes():
    model = design_model()
    model.validate()
    # coarse (1 Hz, one element across the thin layer at least, gmsh target = bound):
    # these tests check the geometry, test_sizes_follow_the_shear_wavelength the sizes
    coarse = dict(f_max=1.0, elements_per_wavelength=3.0, min_elements_across=1, size_safety=1.0)
    return model, build_layered_mesh(model, 1, **coarse), build_layered_mesh(model, 2, **coarse)


def test_exact_volume_matches_fine_quadrature():
    model = design_model()
    x = np.linspace(*model.x, 2001)
    y = np.linspace(*model.y, 2001)
    ground = model.surfaces[0].elevation(x[None, :], y[:, None]) - model.z_bottom
    trapezoid = np.trapezoid(np.trapezoid(ground, x, axis=1), y)
    assert trapezoid == pytest.approx(exact_volume(model), rel=1e-7)


def test_cells_positive(design_meshes):
    _, linear, quadratic = design_meshes
    p = linear.points[linear.cells]
    assert np.linalg.det(p[:, 1:] - p[:, :1]).min() > 0.0
    # curved cells: det J positive everywhere it was sampled, and close to the straight cell's
    assert jacobian_ratio(quadratic).min() > 0.5
    assert radius_ratio(linear).min() > 0.1


def test_total_volume_is_exact_integral(design_meshes):
    model, linear, quadratic = design_meshes
    exact = exact_volume(model)
    linear_error = abs(linear.cell_volumes().sum() / exact - 1.0)
    curved_error = abs(curved_cell_volumes(quadratic).sum() / exact - 1.0)
    assert linear_error < 1e-3
    assert curved_error < 1e-6
    assert curved_error < 1e-2 * linear_error   # curved cells follow the topography


def test_order2_shares_vertices_and_puts_mid_nodes_on_straight_edges(design_meshes):
    _, linear, quadratic = design_meshes
    n = linear.n_nodes
    np.testing.assert_array_equal(quadratic.points[:n], linear.points)
    np.testing.assert_array_equal(quadratic.cells[:, :4], linear.cells)
    np.testing.assert_array_equal(quadratic.layer, linear.layer)
    assert quadratic.n_nodes == n + np.unique(np.sort(quadratic.cells[:, 4:].ravel())).size
    # interior mid-edge nodes are chord midpoints; all are within a few cm of it (curvature)
    from fem.mesh import TET_EDGES
    mid = quadratic.points[quadratic.cells[:, 4:]]
    chord = quadratic.points[quadratic.cells[:, TET_EDGES]].mean(axis=2)
    offset = np.linalg.norm(mid - chord, axis=-1)
    assert np.median(offset) == 0.0
    assert offset.max() < 0.1


def test_interface_nodes_lie_on_model_surfaces(design_meshes):
    model, linear, quadratic = design_meshes
    height = model.surfaces[0].control.max() - model.z_bottom
    for mesh, tolerance in ((linear, 1e-12 * height), (quadratic, 1e-12 * height)):
        # nodes shared by layers i-1 and i lie on surface i
        for i in range(1, model.n_layers):
            upper = np.unique(mesh.cells[mesh.layer == i - 1])
            lower = np.unique(mesh.cells[mesh.layer == i])
            shared = np.intersect1d(upper, lower)
            assert shared.size > 100
            x, y, z = mesh.points[shared].T
            assert np.abs(z - model.surfaces[i].elevation(x, y)).max() < tolerance
        # the top boundary (not on the box sides or bottom) is the ground surface
        faces = boundary_faces(Mesh(mesh.points, mesh.cells[:, :4], mesh.layer))
        p = mesh.points[faces]
        on_box = ((np.abs(p[..., 0] - model.x[0]) < 1e-9).all(1) | (np.abs(p[..., 0] - model.x[1]) < 1e-9).all(1)
                  | (np.abs(p[..., 1] - model.y[0]) < 1e-9).all(1) | (np.abs(p[..., 1] - model.y[1]) < 1e-9).all(1)
                  | (np.abs(p[..., 2] - model.z_bottom) < 1e-9).all(1))
        top = np.unique(faces[~on_box])
        x, y, z = mesh.points[top].T
        assert np.abs(z - model.surfaces[0].elevation(x, y)).max() < tolerance
    # order 2: the mid-edge nodes of the ground triangles lie on the spline too; a
    # triangulated surface has about 3 edges per vertex
    on_ground = np.abs(quadratic.points[:, 2] - model.surfaces[0].elevation(*quadratic.points[:, :2].T)) \
        < 1e-9 * height
    n = linear.n_nodes
    assert on_ground[n:].sum() > 2.5 * on_ground[:n].sum()


def test_layers_match_the_model_at_cell_centres(design_meshes):
    model, linear, quadratic = design_meshes
    for mesh in (linear, quadratic):
        c = cell_centres(mesh)
        elevation = model.elevations(c[:, 0], c[:, 1])
        bottom = np.vstack([elevation[1:], np.full((1, len(c)), -np.inf)])
        inside = (c[:, 2] <= elevation) & (c[:, 2] > bottom)      # (n_layers, n_cells) bracket test
        assert inside.sum(axis=0).tolist() == [1] * len(c)
        np.testing.assert_array_equal(mesh.layer, inside.argmax(axis=0))
        assert mesh.layer.dtype == np.int8
        np.testing.assert_array_equal(np.unique(mesh.layer), np.arange(model.n_layers))


def test_layer_at_points_on_and_between_boundaries():
    model = flat_model()
    z = np.array([5.0, 0.0, -10.0, -60.0, -100.0, -170.0, -329.0, -400.0])
    xyz = np.stack([np.full_like(z, 100.0), np.full_like(z, 50.0), z], axis=1)
    np.testing.assert_array_equal(model.layer_index(*xyz.T), [-1, 0, 0, 1, 1, 2, 2, 2])


def test_sizes_follow_the_shear_wavelength():
    model = flat_model()
    f_max, n = 2.0, 4.0
    mesh = build_layered_mesh(model, 1, f_max, n)
    bound = np.array([lay.vs for lay in model.layers]) / (f_max * n)
    np.testing.assert_allclose(layer_sizes(model, f_max, n), 0.55 * bound)   # thick layers: no cap
    size = mesh_size(mesh, model, n)
    medians = np.array([np.median(size.longest_edge[mesh.layer == i]) for i in range(3)])
    worst = np.array([size.longest_edge[mesh.layer == i].max() for i in range(3)])
    assert np.all(medians <= bound)
    assert np.all(worst <= 1.4 * bound)
    assert medians[0] < medians[1] < medians[2]                      # soft layers are finer
    assert medians[2] > 2.0 * medians[0]
    assert size.f_resolved > f_max / 1.4
    # flat layers: exact box volume, interfaces exactly flat
    assert mesh.cell_volumes().sum() == pytest.approx(400.0 * 400.0 * 330.0, rel=1e-12)
    for i, depth in ((1, -60.0), (2, -170.0)):
        shared = np.intersect1d(mesh.cells[mesh.layer == i - 1], mesh.cells[mesh.layer == i])
        np.testing.assert_allclose(mesh.points[shared, 2], depth, atol=1e-9)


def test_thin_layer_is_capped_to_a_few_elements_across():
    model = design_model()
    sizes = layer_sizes(model, 0.5, 4.0, min_elements_across=3)
    np.testing.assert_allclose(sizes, model.min_thickness() / 3)


def test_homogeneous_halfspace_box():
    model = GroundModel(*BOX, -100.0, (surface("ground", 0.0),), (STIFF,))
    mesh = build_layered_mesh(model, 2, 2.0, 3.0)
    assert mesh.order == 2 and mesh.cells.shape[1] == 10
    assert np.all(mesh.layer == 0)
    assert curved_cell_volumes(mesh).sum() == pytest.approx(400.0 * 400.0 * 100.0, rel=1e-12)
    np.testing.assert_allclose(mesh.points.min(axis=0), [0.0, 0.0, -100.0], atol=1e-9)
    np.testing.assert_allclose(mesh.points.max(axis=0), [400.0, 400.0, 0.0], atol=1e-9)


def test_same_input_same_mesh():
    model = design_model()
    first = build_layered_mesh(model, 2, 1.0, 3.0, min_elements_across=1, size_safety=1.0)
    second = build_layered_mesh(model, 2, 1.0, 3.0, min_elements_across=1, size_safety=1.0)
    np.testing.assert_array_equal(first.points, second.points)
    np.testing.assert_array_equal(first.cells, second.cells)
    np.testing.assert_array_equal(first.layer, second.layer)


def test_mesh_size_of_a_regular_tetrahedron_and_its_scaling():
    vertices = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)  # edge 2 sqrt 2
    model = GroundModel(*BOX, -100.0, (surface("ground", 0.0),), (STIFF,))
    mesh = Mesh(vertices, np.array([[0, 1, 2, 3]]), np.zeros(1, dtype=np.int8))
    size = mesh_size(mesh, model, 5.0)
    assert size.f_resolved == pytest.approx(800.0 / (2 * np.sqrt(2) * 5.0))
    assert radius_ratio(mesh)[0] == pytest.approx(1.0)
    doubled = Mesh(2.0 * vertices, mesh.cells, mesh.layer)
    assert mesh_size(doubled, model, 5.0).f_resolved == pytest.approx(size.f_resolved / 2)
    flat = Mesh(vertices * [1, 1, 1e-3], mesh.cells, mesh.layer)
    assert radius_ratio(flat)[0] < 1e-2


def test_curved_volume_of_a_known_quadratic_map_and_its_mirror():
    from fem.layered_mesh import _MIRROR, _orient_positive
    from fem.shape import tet_reference_nodes
    xi = tet_reference_nodes(2)
    a, b = 0.3, 0.2
    # x -> (x (1 + b x), y, z + a x y) is quadratic, so the 10-node cell represents it
    # exactly; det J = 1 + 2 b x, whose integral over the reference cell is 1/6 + b/12.
    nodes = np.stack([xi[:, 0] * (1 + b * xi[:, 0]), xi[:, 1], xi[:, 2] + a * xi[:, 0] * xi[:, 1]], axis=1)
    cell = Mesh(nodes, np.arange(10)[None], np.zeros(1, dtype=np.int8))
    assert curved_cell_volumes(cell)[0] == pytest.approx(1 / 6 + b / 12, rel=1e-13)
    mirrored = Mesh(nodes, cell.cells[:, _MIRROR[10]], cell.layer)
    assert curved_cell_volumes(mirrored)[0] == pytest.approx(-(1 / 6 + b / 12), rel=1e-13)
    repaired = Mesh(nodes, _orient_positive(nodes, mirrored.cells), cell.layer)
    assert curved_cell_volumes(repaired)[0] == pytest.approx(1 / 6 + b / 12, rel=1e-13)
    assert jacobian_ratio(repaired)[0] > 0.5


def test_report_counts(design_meshes):
    model, linear, quadratic = design_meshes
    report = mesh_report(quadratic, model, 4.0)
    assert report.dofs == 3 * quadratic.n_nodes
    assert report.cells_per_layer.sum() == quadratic.n_cells
    assert report.f_resolved == pytest.approx(mesh_size(linear, model, 4.0).f_resolved)
    text = report.format()
    assert f"{quadratic.n_cells} tetrahedra" in text and "f = min vs/(h n)" in text
    assert len(text.splitlines()) == 4 + model.n_layers


def test_invalid_requests_are_refused():
    model = design_model()
    with pytest.raises(ModelError, match="order"):
        build_layered_mesh(model, 3, 2.0, 4.0)
    with pytest.raises(ModelError, match="f_max"):
        build_layered_mesh(model, 1, 0.0, 4.0)
    assert issubclass(MeshError, ModelError)


def test_meshes_off_the_main_thread():
    import threading
    model = GroundModel(*BOX, -100.0, (surface("ground", 0.0),), (STIFF,))
    result = {}

    def work():
        result["mesh"] = build_layered_mesh(model, 1, 1.0, 3.0)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert result["mesh"].cell_volumes().sum() == pytest.approx(400.0 * 400.0 * 100.0, rel=1e-12)


def test_crossing_surfaces_are_refused_naming_the_layer():
    crossing = surface("b12", [[-10.0, -10.0], [-60.0, -60.0]])     # dives through b23 at -50
    model = GroundModel(*BOX, -120.0, (surface("ground", 0.0), crossing, surface("b23", -50.0)),
                        (SOFT, MEDIUM, STIFF))
    with pytest.raises(ModelError, match="layer 1 has no thickness"):
        build_layered_mesh(model, 1, 1.0, 3.0, min_elements_across=1)


def test_source_refinement_shrinks_elements_near_the_point_only():
    """Refined by 3 around a point inside the middle layer of flat_model(): median edge within the
    core radius about h/3; beyond the outer radius, and in the other layers, the plain mesh's sizes."""
    from fem.layered_mesh import REFINE_CORE, REFINE_RAMP
    model = flat_model()
    plain = build_layered_mesh(model, 1, 2.0, 3.0)
    point = np.array([200.0, 200.0, -115.0])
    refined = build_layered_mesh(model, 1, 2.0, 3.0, refine_at=point, refine_factor=3.0)
    h = layer_sizes(model, 2.0, 3.0)[1]

    def median_edge(mesh, keep):
        p = mesh.points[mesh.cells[keep]]
        return np.median(np.linalg.norm(p[:, [0, 0, 0, 1, 1, 2]] - p[:, [1, 2, 3, 2, 3, 3]], axis=-1))

    r = lambda mesh: np.linalg.norm(cell_centres(mesh) - point, axis=1)
    near = lambda mesh: r(mesh) < REFINE_CORE * h
    far = lambda mesh: r(mesh) > (REFINE_CORE + REFINE_RAMP + 0.5) * h
    assert median_edge(refined, near(refined)) < 0.45 * median_edge(plain, near(plain))
    assert median_edge(refined, far(refined)) == pytest.approx(median_edge(plain, far(plain)), rel=0.1)
    for layer in (0, 2):   # the coarser layers above and below keep their own sizes away from the point
        keep = lambda mesh: (mesh.layer == layer) & far(mesh)
        assert median_edge(refined, keep(refined)) == pytest.approx(median_edge(plain, keep(plain)), rel=0.1)
    assert refined.cells.shape[0] > plain.cells.shape[0]


def test_source_refinement_factor_below_one_is_refused():
    from fem.scenario import ScenarioError, parse_scenario
    text = """
model:
  domain: {x: [0.0, 100.0], y: [0.0, 100.0], z_bottom: -100.0}
  surfaces: [{name: ground, elevation: 0.0}]
  layers: [{vp: 1500.0, vs: 1000.0, rho: 2000.0}]
mesh: {order: 2, f_max: 5.0, source_refinement: 0.5}
time: {duration: 0.1, dt: 0.01}
source:
  type: moment_tensor
  position: [50.0, 50.0, -50.0]
  tensor: {mxy: 1.0e13}
  time_function: {type: brune, rise_time: 0.1}
receivers: {points: [[10.0, 10.0]]}
"""
    with pytest.raises(ScenarioError, match="mesh.source_refinement"):
        parse_scenario(text)
    assert parse_scenario(text.replace("source_refinement: 0.5", "source_refinement: 2")).mesh.source_refinement == 2.0
