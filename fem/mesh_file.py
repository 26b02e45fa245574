"""A mesh saved once and reused: `python -m fem mesh --save` writes it, `python -m fem run --mesh` reads it.

The file (NumPy .npz, compressed) holds the mesh arrays and the fingerprint of
what shaped it: the scenario's `model` and `mesh` sections and, when the
source refines the mesh, the source position. `load_mesh` refuses a file whose
fingerprint differs from the scenario's, so a stale mesh is never simulated.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from fem.atomic import atomic_path
from fem.mesh import Mesh
from fem.model import ModelError
from fem.scenario import Scenario, load_yaml

FORMAT = 1   #: bumped when the layout changes; an older file is refused like a stale one


def mesh_fingerprint(scenario: Scenario) -> str:
    """sha256 of what the mesh depends on, from the scenario's own text (canonical JSON)."""
    tree = load_yaml(scenario.text)
    shaped_by = {"format": FORMAT, "model": tree["model"], "mesh": tree["mesh"]}
    if scenario.mesh.source_refinement > 1.0:
        shaped_by["source_position"] = tree["source"].get("position")
    return hashlib.sha256(json.dumps(shaped_by, sort_keys=True, default=str).encode()).hexdigest()


def save_mesh(path: str | Path, mesh: Mesh, scenario: Scenario) -> None:
    """Write the mesh with the scenario's fingerprint, atomically (temporary file, then rename)."""
    with atomic_path(path, suffix=".part") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, points=mesh.points, cells=mesh.cells, layer=mesh.layer,
                            fingerprint=np.array(mesh_fingerprint(scenario)))


def load_mesh(path: str | Path, scenario: Scenario) -> Mesh:
    """The mesh saved at `path`; ModelError if it is missing, unreadable or made for another model."""
    try:
        with np.load(path, allow_pickle=False) as f:
            stored = str(f["fingerprint"])
            mesh = Mesh(points=f["points"], cells=f["cells"], layer=f["layer"])
    except (OSError, KeyError, ValueError) as err:
        raise ModelError(f"mesh file {path}: cannot read it ({err})") from None
    if stored != mesh_fingerprint(scenario):
        raise ModelError(f"mesh file {path} was made for another model or mesh setting; "
                         f"remake it with `python -m fem mesh SCENARIO --save {path}`")
    return mesh
