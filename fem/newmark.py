"""Implicit Newmark-beta time stepping (average acceleration: beta = 1/4, gamma = 1/2).

The step is solved for the new acceleration,

    (M + gamma dt C + beta dt^2 K) a' = f' - C v* - K u*,
    u* = u + dt v + (1/2 - beta) dt^2 a,   v* = v + (1 - gamma) dt a,

then u' = u* + beta dt^2 a', v' = v* + gamma dt a'. With beta = 1/4 and
gamma = 1/2 the scheme is unconditionally stable, second-order accurate and
conserves the energy of an undamped, unloaded system exactly (up to the
solver tolerance). The linear solve uses the caller's preconditioned CG; its
initial guess extrapolates the accelerations of earlier steps, which on
smooth wave fields removes most of the iterations. With predictor_order None
the scheme passes no guess and the solver brings its own (e.g. the projection
onto earlier solutions of hpc.projection). The vectors may carry leading batch
axes, (C, n) for C cases advanced together: every operation is element-wise.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Vector = np.ndarray
MatVec = Callable[[Vector], Vector]
#: solve(rhs, initial_guess) -> (solution, iterations)
Solve = Callable[[Vector, Vector], tuple[Vector, int]]

#: Coefficients of polynomial extrapolation from the last 1, 2, 3 accelerations (newest first).
_EXTRAPOLATION = {0: (1.0,), 1: (2.0, -1.0), 2: (3.0, -3.0, 1.0)}


@dataclass
class NewmarkState:
    u: Vector  #: displacement, m
    v: Vector  #: velocity, m/s
    a: Vector  #: acceleration, m/s^2
    history: deque = field(default_factory=lambda: deque(maxlen=3))  #: recent accelerations, newest first


@dataclass(frozen=True)
class Newmark:
    dt: float               #: time step, s
    damping: MatVec         #: v -> C v (complete on every local entry)
    stiffness: MatVec       #: u -> K u
    solve: Solve            #: solves (M + gamma dt C + beta dt^2 K) a = rhs
    predictor_order: int | None = 2  #: polynomial extrapolation order; None: no guess (the solver's own)
    beta: float = 0.25
    gamma: float = 0.5

    @property
    def system_coefficients(self) -> tuple[float, float]:
        """(c_C, c_K) in the step matrix M + c_C C + c_K K."""
        return self.gamma * self.dt, self.beta * self.dt**2

    def initial_state(self, shape: int | tuple[int, ...]) -> NewmarkState:
        z = np.zeros(shape)
        return NewmarkState(z, z.copy(), z.copy())

    def guess(self, state: NewmarkState) -> Vector | None:
        """Initial CG guess for the next acceleration, extrapolated from earlier steps (None: none)."""
        if self.predictor_order is None:
            return None
        order = min(self.predictor_order, len(state.history) - 1)
        if order < 0:   # zeros of a's kind: a numpy array or a torch tensor (fem.batch's torch backend)
            return np.zeros_like(state.a) if isinstance(state.a, np.ndarray) else state.a.new_zeros(state.a.shape)
        coeffs = _EXTRAPOLATION[order]
        g = coeffs[0] * state.history[0]
        for c, a in zip(coeffs[1:], list(state.history)[1:]):
            g = g + c * a
        return g

    def step(self, state: NewmarkState, force: Vector) -> int:
        """Advance `state` in place by one step under the load `force` at the new time; returns CG iterations."""
        dt, b, g = self.dt, self.beta, self.gamma
        u_star = state.u + dt * state.v + (0.5 - b) * dt * dt * state.a
        v_star = state.v + (1.0 - g) * dt * state.a
        rhs = force - self.damping(v_star) - self.stiffness(u_star)
        a_new, iterations = self.solve(rhs, self.guess(state))
        state.u = u_star + b * dt * dt * a_new
        state.v = v_star + g * dt * a_new
        state.a = a_new
        if self.predictor_order is not None:
            state.history.appendleft(a_new)
        return iterations
