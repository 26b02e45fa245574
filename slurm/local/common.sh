# Shared settings for the local single-node Slurm scripts (sourced, not run).
#
# Every path and port can be overridden from the environment, so a workstation
# that already runs MySQL or another Slurm can move this one out of the way.

STATE=${SLURM_LOCAL_STATE:-/var/lib/slurm-local}     # all daemon state, logs and PID files
CONF_DIR=/etc/slurm                                  # fixed: the Snakemake plugin clears SLURM_CONF
CLUSTER=${SLURM_LOCAL_CLUSTER:-local}                # ClusterName, also the sacct cluster
ACCOUNT=${SLURM_LOCAL_ACCOUNT:-local}                # account the Snakemake profile submits under
PARTITION=${SLURM_LOCAL_PARTITION:-debug}            # the single, default partition
DB_PORT=${SLURM_LOCAL_DB_PORT:-3306}                 # MariaDB TCP port (127.0.0.1 only)
DB_PASS=${SLURM_LOCAL_DB_PASS:-slurm-local}          # slurmdbd's MariaDB password (local, throwaway)
FAKE_GPUS=${SLURM_LOCAL_FAKE_GPUS:-1}                # GRES gpu entries backed by /dev/null, for --gpus tests
MUNGE_SOCKET=/run/munge/munge.socket.2               # munge's default, so clients need no AuthInfo
HOST=$(hostname -s)

# Daemons in stop order (reverse of start order).
DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged)

pid_file() { echo "$STATE/run/$1.pid"; }

# True when the daemon recorded in its PID file is alive.
is_running() {
    local f; f=$(pid_file "$1")
    [[ -s $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# Wait up to $2 seconds for command "$3..." to succeed; fail naming $1.
wait_for() {
    local what=$1 secs=$2; shift 2
    local i
    for ((i = 0; i < secs * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.25
    done
    echo "slurm/local: $what did not come up in ${secs}s; see $STATE/log/" >&2
    return 1
}
