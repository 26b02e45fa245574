#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the
# project with its test and workflow extras. Idempotent; safe to rerun.
#   PYTHON=python3.11 bash tools/install.sh
# On a cluster, build mpi4py against the system MPI instead of the PyPI mpich:
#   SYSTEM_MPI=1 bash tools/install.sh   (then mpi4py is compiled with the mpicc on PATH)
# System packages: on Debian/Ubuntu it first checks what a bare system lacks (python3-venv,
# the X11/OpenGL/OpenMP libraries the gmsh wheel links) and installs it with apt-get when
# run as root; otherwise it names the packages and stops. SKIP_SYSTEM_PACKAGES=1 skips this.
# Python dependencies: pyproject.toml only (torch is installed first as the CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# --- system packages ---------------------------------------------------------------
# Everything else (MPI, HDF5, METIS, torch) comes as wheels. libgmsh.so (PyPI gmsh wheel)
# links these (readelf -d): libGLU libGL libXrender libXcursor libXfixes libXext libXft
# libfontconfig libXinerama libX11 libgomp; a minbase Debian 12 has none of them.
DEB_PKGS="libglu1-mesa libgl1 libxrender1 libxcursor1 libxfixes3 libxext6 libxft2 libfontconfig1 libxinerama1 libx11-6 libgomp1"
LIBS="libGLU.so.1 libGL.so.1 libXrender.so.1 libXcursor.so.1 libXfixes.so.3 libXext.so.6 libXft.so.2 libfontconfig.so.1 libXinerama.so.1 libX11.so.6 libgomp.so.1"
venv_ok() { [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; }
if ! venv_ok; then
  DEB_PKGS="python3 python3-venv $DEB_PKGS"   # python3-venv: ensurepip, which 'python3 -m venv' needs
fi
if [ "${SYSTEM_MPI:-0}" = 1 ]; then
  DEB_PKGS="$DEB_PKGS python3-dev gcc"        # mpi4py is compiled; the MPI (mpicc) is the cluster's
fi
if [ "${SKIP_SYSTEM_PACKAGES:-0}" != 1 ]; then
  if command -v dpkg-query >/dev/null 2>&1; then
    missing=""
    for p in $DEB_PKGS; do
      dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install.sh: apt-get install$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends $missing >/dev/null
      else
        echo "install.sh: missing system packages; as root run: apt-get install --no-install-recommends$missing" >&2
        exit 1
      fi
    fi
  elif command -v ldconfig >/dev/null 2>&1; then   # not Debian: name what is missing, go on
    missing=""; have=$(ldconfig -p 2>/dev/null || true)
    for l in $LIBS; do case "$have" in *"$l"*) ;; *) missing="$missing $l" ;; esac; done
    [ -z "$missing" ] || echo "install.sh: warning: gmsh needs these libraries, not found by ldconfig:$missing" >&2
  fi
fi

# --- Python environment ------------------------------------------------------------
if ! venv_ok; then
  "$PYTHON" -m venv --clear .venv   # --clear: a venv left without pip by a failed attempt
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first: a bare 'torch' requirement would pull the multi-GB CUDA build.
# Its wheels are on download.pytorch.org (TORCH_INDEX); where that host cannot be reached,
# the configured pip indexes/find-links are used as they are.
if ! python -c "import torch" 2>/dev/null; then
  TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
  host=${TORCH_INDEX#*://}; host=${host%%/*}
  if [ -n "$TORCH_INDEX" ] && ! python -c "import socket,sys; socket.getaddrinfo(sys.argv[1], 443)" "$host" 2>/dev/null; then
    echo "install.sh: $host unreachable; torch from the configured pip indexes" >&2
    TORCH_INDEX=""
  fi
  python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
if [ "${SYSTEM_MPI:-0}" = 1 ]; then
  python -m pip install -q --no-binary=mpi4py mpi4py
  python -m pip install -q -e ".[workflow,test]"
else
  python -m pip install -q -e ".[dev]"
fi
python -c "import mpi4py, h5py, gmsh, torch; print('installed: torch', torch.__version__, '| h5py', h5py.__version__)"
