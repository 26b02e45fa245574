"""Checkpoints that let a preempted job resume exactly, written atomically."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from fem.atomic import atomic_path


def save_atomic(obj: dict, path: str | Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def rng_states() -> dict:
    """Every random stream training may touch: python, numpy, torch CPU and CUDA."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def load(path: str | Path) -> dict:
    """Load a checkpoint or model bundle onto the CPU (trusted files written by this package)."""
    return torch.load(path, map_location="cpu", weights_only=False)
