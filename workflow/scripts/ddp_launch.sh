#!/usr/bin/env bash
# Start one DDP training over N processes with the launcher of the machine:
#
#   ddp_launch.sh LAUNCHER N -- python -m surrogate train ...
#
#   torchrun  single node, --standalone rendezvous, N processes (laptop, CI)
#   srun      inside a Slurm allocation of N tasks, any number of nodes: each task
#             gets RANK/LOCAL_RANK/WORLD_SIZE from Slurm's own variables and
#             rendezvous at the first node of the allocation (env://)
#   mpiexec   N ranks; MPICH's PMI_RANK/PMI_SIZE give the ranks (one node)
#
#   ddp_launch.sh [LAUNCHER] 1 -- python -m surrogate train ...
#
# One process (N 1; the workflow leaves LAUNCHER empty then, as the Slurm plugin refuses
# an `mpi` job of one task, so the shell passes just `1`): the command itself, no launcher.
#
# The training script reads RANK/LOCAL_RANK/WORLD_SIZE, so it is the same for all.
set -euo pipefail
if [[ ${1:-} =~ ^[0-9]+$ ]]; then launcher=""; n=$1; shift 1
else launcher=${1:-}; n=${2:-}; shift 2 || true; fi
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "ddp_launch.sh: usage: ddp_launch.sh [LAUNCHER] N -- COMMAND (N >= 1)" >&2; exit 2; }
[[ ${1:-} == -- ]] && shift
if [[ -z $launcher ]]; then
    [[ $n == 1 ]] || { echo "ddp_launch.sh: $n processes need a launcher (torchrun, srun or mpiexec)" >&2; exit 2; }
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    exec "$@"
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

case $launcher in
torchrun)
    # torchrun runs `python -m MOD ARGS`: drop the leading "python -m".
    [[ $1 == python* && ${2:-} == -m ]] || { echo "ddp_launch.sh: torchrun needs 'python -m MODULE ...'" >&2; exit 2; }
    shift 2
    exec torchrun --standalone --nnodes=1 --nproc_per_node="$n" -m "$@"
    ;;
srun)
    [[ -n ${SLURM_JOB_ID:-} ]] || { echo "ddp_launch.sh: srun launcher outside a Slurm job" >&2; exit 2; }
    # The Snakemake plugin clears most SLURM_* variables (the node list too): ask Slurm.
    nodes=${SLURM_JOB_NODELIST:-$(squeue -h -j "$SLURM_JOB_ID" -o %N)}
    MASTER_ADDR=${MASTER_ADDR:-$(scontrol show hostnames "$nodes" | head -n 1)}
    [[ -n $MASTER_ADDR ]] || { echo "ddp_launch.sh: no node list for job $SLURM_JOB_ID" >&2; exit 2; }
    export MASTER_ADDR
    # A port per job, so two trainings sharing a node do not collide.
    export MASTER_PORT=${MASTER_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}
    exec srun --ntasks="$n" --kill-on-bad-exit=1 --mpi=none \
        bash -c 'RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID WORLD_SIZE=$SLURM_NTASKS exec "$@"' ddp "$@"
    ;;
mpiexec)
    export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} MASTER_PORT=${MASTER_PORT:-29511}
    exec mpiexec -n "$n" bash -c 'RANK=$PMI_RANK LOCAL_RANK=$PMI_RANK WORLD_SIZE=$PMI_SIZE exec "$@"' ddp "$@"
    ;;
*)
    echo "ddp_launch.sh: unknown launcher '$launcher' (torchrun, srun or mpiexec)" >&2
    exit 2
    ;;
esac
