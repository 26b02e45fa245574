"""Learned surrogates of the FEM: training data, networks, DDP training, evaluation.

Submodules are imported on demand (torch is heavy); start from `python -m surrogate --help`.
"""
