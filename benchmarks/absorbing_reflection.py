"""Absorbing boundaries measured: reflected energy share per boundary, wave type and incidence angle.

The measurement of tests/test_absorbing_reflection.py (a Gaussian-windowed plane-wave
packet in a slab one element thick, the project's assembly, dashpots and Newmark
scheme; reflected share = energy left in the slab after the packet has met the face
/ energy at the start), over the whole table: bottom and side (x1), P, SV and SH,
0, 30 and 60 degrees, beside
  - 'plane wave': the Lysmer-Kuhlemeyer plane-wave share (reflected + converted),
  - 'packet': the same averaged over the packet's plane waves (energy weighted), which
    is what the measurement should read on a fine enough mesh.
With --free the tested face is left without dashpots (theory: everything reflected).

    python benchmarks/absorbing_reflection.py [--h 20] [--angles 0 30 60] [--waves P SV SH]
        [--boundaries bottom side] [--free]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import test_absorbing_reflection as case  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--h", type=float, default=20.0, help="element size, m (packet wavelength 100 m)")
    ap.add_argument("--angles", type=float, nargs="+", default=[0.0, 30.0, 60.0])
    ap.add_argument("--waves", nargs="+", default=["P", "SV", "SH"], choices=["P", "SV", "SH"])
    ap.add_argument("--boundaries", nargs="+", default=["bottom", "side"], choices=["bottom", "side"])
    ap.add_argument("--free", action="store_true", help="tested face without dashpots")
    args = ap.parse_args()
    print(f"reflected energy, % of the incident (Vp {case.VP:g}, Vs {case.VS:g} m/s; packet wavelength "
          f"{case.Packet().wavelength:g} m, h = {args.h:g} m, P2){' -- FREE face' if args.free else ''}")
    print(f"{'boundary':8} {'wave':4} {'angle':>5} {'measured':>9} {'packet':>8} {'plane wave':>10} "
          f"{'dofs':>7} {'steps':>5} {'wall s':>6}", flush=True)
    for boundary in args.boundaries:
        for wave in args.waves:
            for angle in args.angles:
                start = time.perf_counter()
                s = case.slab(boundary, wave, angle, h=args.h)
                r = case.measure(s, dashpot=not args.free)
                plane = sum(case.plane_wave_reflection(wave, angle, dashpot=not args.free))
                print(f"{boundary:8} {wave:4} {angle:5.0f} {100 * r['measured']:9.3f} {100 * r['expected']:8.3f} "
                      f"{100 * plane:10.3f} {r['dofs']:7d} {r['steps']:5d} {time.perf_counter() - start:6.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
