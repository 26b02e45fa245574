#!/usr/bin/env bash
# Install the packages for a single-node Slurm with job accounting (Debian 12, as root).
#
# Idempotent: packages already present are left alone. Daemons are NOT started
# here (see start.sh): on machines without systemd the packages' init scripts
# would start them with no configuration, so a temporary policy-rc.d forbids it.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "install.sh: run as root (apt-get and the Slurm daemons need it)" >&2
    exit 1
fi

# slurmdbd + MariaDB: snakemake-executor-plugin-slurm polls job states with sacct,
# which needs real accounting, or Snakemake waits forever on finished jobs.
packages=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server libpmix-dev procps)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install.sh: all packages present"
    exit 0
fi

policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install.sh: installed ${missing[*]}"
