#!/usr/bin/env bash
# Start a single-node, cgroup-free Slurm with job accounting, as root, without systemd.
#
#   munged -> mariadbd -> slurmdbd -> slurmctld -> slurmd
#
# Idempotent: if the cluster already answers (srun and sacct), nothing is done;
# otherwise whatever is left of an earlier start is stopped and all is started
# afresh. Configuration is written to /etc/slurm (the Snakemake Slurm plugin
# clears SLURM_CONF before its nested srun, so the default path must hold it).
# Run install.sh first. Logs: $SLURM_LOCAL_STATE/log (default /var/lib/slurm-local/log).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"

if [[ $(id -u) -ne 0 ]]; then
    echo "start.sh: run as root (the daemons run as root here)" >&2
    exit 1
fi
for exe in munged mariadbd slurmdbd slurmctld slurmd sacctmgr; do
    command -v "$exe" >/dev/null || { echo "start.sh: $exe missing; run slurm/local/install.sh" >&2; exit 1; }
done

healthy() {
    for d in "${DAEMONS[@]}"; do is_running "$d" || return 1; done
    timeout 20 srun -N1 -n1 true && timeout 10 sacct -n -X -S now-1minutes >/dev/null
}
if healthy 2>/dev/null; then
    echo "start.sh: local Slurm already running"
    exit 0
fi
"$here/stop.sh" >/dev/null 2>&1 || true

mkdir -p "$STATE"/{run,log,munge,slurmctld,slurmd} /run/munge "$CONF_DIR"
chmod 700 "$STATE/munge"

start_daemon() {   # name, command...: run in the foreground mode, detached, PID recorded
    local name=$1; shift
    setsid "$@" >>"$STATE/log/$name.out" 2>&1 < /dev/null &
    echo $! > "$(pid_file "$name")"
}

# --- munge: own key in the state folder; default socket so clients find it -----
key="$STATE/munge/munge.key"
if [[ ! -s $key ]]; then
    dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
fi
chmod 600 "$key"
start_daemon munged munged -F --force --key-file="$key" --socket="$MUNGE_SOCKET" \
    --pid-file="$STATE/munge/munged.pid" --seed-file="$STATE/munge/munged.seed" \
    --log-file="$STATE/log/munged.log"
wait_for munged 15 munge -n -S "$MUNGE_SOCKET"

# --- MariaDB for slurmdbd, private data folder, 127.0.0.1 only ------------------
db="$STATE/mysql"
if [[ ! -d $db/mysql ]]; then
    mkdir -p "$db"; chown mysql:mysql "$db"
    mariadb-install-db --no-defaults --user=mysql --datadir="$db" --auth-root-authentication-method=socket \
        >>"$STATE/log/mariadb-install.log" 2>&1
fi
sock="$STATE/run/mysqld.sock"; chown mysql:mysql "$STATE/run"
start_daemon mariadbd mariadbd --no-defaults --user=mysql --datadir="$db" --bind-address=127.0.0.1 \
    --port="$DB_PORT" --socket="$sock" --pid-file="$STATE/run/mysqld.real.pid" \
    --log-error="$STATE/log/mariadbd.log" --skip-name-resolve
wait_for mariadbd 60 mariadb --no-defaults -S "$sock" -u root -e "SELECT 1"
mariadb --no-defaults -S "$sock" -u root <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
SQL

# --- Slurm configuration --------------------------------------------------------
cpus=${SLURM_LOCAL_CPUS:-$(nproc)}
# Leave ~10 % of the memory to the OS and the daemons.
mem_mb=${SLURM_LOCAL_MEM_MB:-$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)}
gres_node=""; gres_types=""
if (( FAKE_GPUS > 0 )); then
    gres_types="GresTypes=gpu"
    gres_node="Gres=gpu:$FAKE_GPUS"
    : > "$CONF_DIR/gres.conf"
    for ((i = 0; i < FAKE_GPUS; i++)); do
        echo "NodeName=$HOST Name=gpu File=/dev/null" >> "$CONF_DIR/gres.conf"
    done
fi
if [[ -f $CONF_DIR/slurm.conf ]] && ! grep -q "written by slurm/local/start.sh" "$CONF_DIR/slurm.conf"; then
    mv "$CONF_DIR/slurm.conf" "$CONF_DIR/slurm.conf.before-local.$(date +%s)"
fi
cat > "$CONF_DIR/slurm.conf" <<CONF
# written by slurm/local/start.sh: single node, cgroup-free, accounting in slurmdbd
ClusterName=$CLUSTER
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/run/slurmctld.real.pid
SlurmdPidFile=$STATE/run/slurmd.real.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# no cgroups: containers and CI runners rarely delegate them
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# pmi2 matches the MPICH wheel from PyPI (pmix fails with it)
MpiDefault=pmi2
ReturnToService=2
KillWait=5
MinJobAge=300
# sacct needs accounting: the Snakemake plugin polls job states with it
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
$gres_types
# without a default, a job that gives no --mem takes the whole node
DefMemPerCPU=1000
NodeName=$HOST CPUs=$cpus RealMemory=$mem_mb $gres_node State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
cat > "$CONF_DIR/slurmdbd.conf" <<CONF
# written by slurm/local/start.sh
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.real.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONF
chmod 600 "$CONF_DIR/slurmdbd.conf"

# --- Slurm daemons --------------------------------------------------------------
start_daemon slurmdbd slurmdbd -D
wait_for slurmdbd 60 sacctmgr -n show cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=local Organization=local >/dev/null 2>&1 || true
sacctmgr -i add user "$(id -un)" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true

# -c: a fresh start drops jobs an earlier, killed cluster left in its state (they would hold the CPUs)
start_daemon slurmctld slurmctld -D -c
wait_for slurmctld 60 scontrol ping
start_daemon slurmd slurmd -D
wait_for "node $HOST" 60 bash -c "sinfo -h -n $HOST -o %T | grep -Eq '^(idle|mixed|allocated)'"
wait_for "srun" 60 timeout 20 srun -N1 -n1 true
wait_for "sacct" 30 sacct -n -X -S now-1minutes
echo "start.sh: local Slurm up (cluster $CLUSTER, partition $PARTITION, account $ACCOUNT, $cpus CPUs, ${mem_mb} MB, $FAKE_GPUS fake GPU)"
