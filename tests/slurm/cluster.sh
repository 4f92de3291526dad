#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing the Snakemake profile.
#
#   tests/slurm/cluster.sh start|stop|status [DIR]
#
# Everything (config, state, logs, the munge key and socket, pid files) lives
# under DIR (default: $EMOTRACE_SLURM_DIR, else /tmp/emotrace-slurm). Clients
# find the cluster through SLURM_CONF=DIR/etc/slurm.conf, which `start` prints,
# and, while it runs, through a link at /etc/slurm/slurm.conf (see below).
# Partitions `debug` (default) and `gpu`, one node with 2 CPUs and one stand-in
# GPU (File=/dev/null: jobs see CUDA_VISIBLE_DEVICES=0 but run on the CPU).
# No accounting database: finished jobs stay visible to `squeue` for MinJobAge
# seconds, and each finished job is also written to DIR/log/jobcomp.log.
#
# Needs root (daemons run as users slurm and munge) and installs slurm-wlm and
# munge with apt-get when slurmctld is missing. Every wait is bounded.
# Exit status: 0 ok, 1 the cluster failed to start or stop, 2 SLURM cannot be
# provided on this machine (not root, no apt-get, install failed).
# Environment: EMOTRACE_SLURM_PORT (slurmctld port, slurmd uses the next one;
# default 6817), EMOTRACE_SLURM_WAIT_S (each bounded wait, default 60).
set -euo pipefail

ACTION=${1:-}
DIR=${2:-${EMOTRACE_SLURM_DIR:-/tmp/emotrace-slurm}}
PORT=${EMOTRACE_SLURM_PORT:-6817}
WAIT_S=${EMOTRACE_SLURM_WAIT_S:-60}
export PATH=/usr/sbin:/sbin:$PATH
export SLURM_CONF=$DIR/etc/slurm.conf
MUNGE_SOCKET=$DIR/munge/munge.socket.2
# The job step's `srun` runs without SLURM_CONF (the slurm-jobstep plugin drops
# every SLURM_* variable), so the config must also be at SLURM's default path.
DEFAULT_CONF=/etc/slurm/slurm.conf
DAEMONS=(slurmd slurmctld munged)

fail() { echo "cluster.sh: $*" >&2; exit 1; }
unavailable() { echo "cluster.sh: SLURM unavailable: $*" >&2; exit 2; }

pid_file() {
    case $1 in
        munged) echo "$DIR/munge/munged.pid" ;;
        *) echo "$DIR/run/$1.pid" ;;
    esac
}

# Pid of a daemon of this cluster if it runs (checked by name; zombies do not
# count), else nothing.
running_pid() {
    local file pid stat
    file=$(pid_file "$1")
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat ]] || return 0
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
    # /proc/PID/stat: "PID (COMM) STATE ..."
    if [[ $stat == "$pid ($1) "* && ${stat#*) } != Z* ]]; then
        echo "$pid"
    fi
}

# wait_until DAEMON CHECK: retry CHECK (a function whose commands are each
# bounded by `timeout`) for WAIT_S seconds, giving up at once if DAEMON died.
wait_until() {
    local daemon=$1 check=$2 deadline=$((SECONDS + WAIT_S))
    until "$check" >/dev/null 2>&1; do
        if [[ -z $(running_pid "$daemon") ]]; then
            echo "cluster.sh: $daemon exited" >&2
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "cluster.sh: timed out after ${WAIT_S}s waiting for $check" >&2
            return 1
        fi
        sleep 0.5
    done
}

# Stop whatever part of the cluster runs, then fail with the message.
start_failed() {
    stop >/dev/null 2>&1 || true
    fail "$@"
}

munge_works() { timeout 10 munge -n -S "$MUNGE_SOCKET" | timeout 10 unmunge -S "$MUNGE_SOCKET"; }
controller_up() { timeout 10 scontrol ping | grep -q 'is UP'; }
node_idle() { [[ $(timeout 10 sinfo -h -N -n localhost -o %T | sort -u) == idle ]]; }

ensure_installed() {
    if command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged; then
        return 0
    fi >/dev/null
    [[ $(id -u) == 0 ]] || unavailable "slurmctld is not installed and installing it needs root"
    command -v apt-get >/dev/null || unavailable "slurmctld is not installed and apt-get is missing"
    echo "installing slurm-wlm and munge (log: $DIR/log/apt.log)"
    timeout 300 apt-get update -qq >"$DIR/log/apt.log" 2>&1 ||
        unavailable "apt-get update failed, see $DIR/log/apt.log"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y --no-install-recommends \
        slurm-wlm munge >>"$DIR/log/apt.log" 2>&1 ||
        unavailable "apt-get install slurm-wlm munge failed, see $DIR/log/apt.log"
}

write_config() {
    local mem_mb
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
    cat >"$DIR/etc/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster.
ClusterName=emotrace
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups: processes are tracked by parent pid and tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SlurmdParameters=config_overrides
ReturnToService=2
# No accounting database (sacct does not work): squeue shows finished jobs for
# MinJobAge seconds, which must be >= 3x the profile's first status-check delay;
# an hour keeps every job of a test session visible to squeue.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.log
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
EOF
    cat >"$DIR/etc/gres.conf" <<EOF
# A stand-in GPU for scheduling tests: the code still runs on the CPU.
NodeName=localhost Name=gpu Count=1 File=/dev/null
EOF
}

# Point SLURM's default config path at this cluster's config; never replace a
# real config file or another test cluster's link.
link_default_conf() {
    if [[ -L $DEFAULT_CONF ]]; then
        local target
        target=$(readlink "$DEFAULT_CONF")
        if [[ $target != "$SLURM_CONF" && -e $target ]]; then
            unavailable "$DEFAULT_CONF links to $target: another test cluster seems to run (stop it first)"
        fi
    elif [[ -e $DEFAULT_CONF ]]; then
        unavailable "$DEFAULT_CONF exists (a real SLURM installation?); this test cluster needs that path"
    fi
    mkdir -p "$(dirname "$DEFAULT_CONF")"
    ln -sfn "$SLURM_CONF" "$DEFAULT_CONF"
}

unlink_default_conf() {
    if [[ -L $DEFAULT_CONF && $(readlink "$DEFAULT_CONF") == "$SLURM_CONF" ]]; then
        rm -f "$DEFAULT_CONF"
    fi
}

start_munged() {
    install -d -o munge -g munge -m 0755 "$DIR/munge"
    if [[ ! -s $DIR/munge/munge.key ]]; then
        runuser -u munge -- mungekey --create --keyfile="$DIR/munge/munge.key" ||
            fail "mungekey could not create $DIR/munge/munge.key"
    fi
    runuser -u munge -- munged --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" \
        --pid-file="$(pid_file munged)" --log-file="$DIR/munge/munged.log" \
        --seed-file="$DIR/munge/munged.seed" </dev/null >"$DIR/log/munged.out" 2>&1 ||
        start_failed "munged did not start: $(tail -n 3 "$DIR/log/munged.out" "$DIR/munge/munged.log" 2>/dev/null)"
    wait_until munged munge_works ||
        start_failed "munged does not answer: $(tail -n 3 "$DIR/munge/munged.log" 2>/dev/null)"
}

start() {
    if [[ -n $(running_pid slurmd) && -n $(running_pid slurmctld) && -n $(running_pid munged) ]] &&
        node_idle 2>/dev/null; then
        echo "already running; export SLURM_CONF=$SLURM_CONF"
        return 0
    fi
    [[ $(id -u) == 0 ]] || unavailable "starting the SLURM daemons needs root"
    stop >/dev/null
    mkdir -p "$DIR/etc" "$DIR/log"
    ensure_installed
    id slurm >/dev/null 2>&1 || unavailable "user slurm is missing (package slurm-wlm installs it)"
    id munge >/dev/null 2>&1 || unavailable "user munge is missing (package munge installs it)"
    chmod 0755 "$DIR"
    local user
    for user in munge slurm; do
        runuser -u "$user" -- test -x "$DIR" ||
            fail "user $user cannot reach $DIR: every parent folder must be world-executable"
    done
    install -d -o slurm -g slurm -m 0755 "$DIR/state" "$DIR/run" "$DIR/log"
    install -d -m 0755 "$DIR/spool"
    write_config
    link_default_conf

    start_munged
    slurmctld -c -f "$SLURM_CONF" </dev/null >"$DIR/log/slurmctld.out" 2>&1 ||
        start_failed "slurmctld did not start: $(tail -n 5 "$DIR/log/slurmctld.out" "$DIR/log/slurmctld.log" 2>/dev/null)"
    wait_until slurmctld controller_up ||
        start_failed "slurmctld does not answer: $(tail -n 5 "$DIR/log/slurmctld.log" 2>/dev/null)"
    slurmd -f "$SLURM_CONF" -N localhost </dev/null >"$DIR/log/slurmd.out" 2>&1 ||
        start_failed "slurmd did not start: $(tail -n 5 "$DIR/log/slurmd.out" "$DIR/log/slurmd.log" 2>/dev/null)"
    wait_until slurmd node_idle ||
        start_failed "node localhost is not idle: $(timeout 10 sinfo -N 2>&1; tail -n 5 "$DIR/log/slurmd.log" 2>/dev/null)"
    echo "started in ${SECONDS}s; export SLURM_CONF=$SLURM_CONF"
}

stop() {
    local name pid deadline
    if [[ -n $(running_pid slurmctld) ]]; then
        # Cancel jobs first: their slurmstepd processes outlive slurmd.
        local jobs
        jobs=$(timeout 10 squeue -h -t PENDING,CONFIGURING,RUNNING,SUSPENDED -o %i 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086 # one argument per job id
            timeout 10 scancel $jobs 2>/dev/null || true
        fi
        deadline=$((SECONDS + 20))
        while [[ -n $(timeout 10 squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null) ]] && ((SECONDS < deadline)); do
            sleep 0.5
        done
    fi
    for name in "${DAEMONS[@]}"; do
        pid=$(running_pid "$name")
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 15))
        while [[ -n $(running_pid "$name") ]] && ((SECONDS < deadline)); do
            sleep 0.2
        done
        if [[ -n $(running_pid "$name") ]]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "stopped $name (pid $pid)"
    done
    for name in "${DAEMONS[@]}"; do
        rm -f "$(pid_file "$name")"
    done
    unlink_default_conf
}

status() {
    local name pid down=0
    for name in munged slurmctld slurmd; do
        pid=$(running_pid "$name")
        if [[ -n $pid ]]; then
            echo "$name: running (pid $pid)"
        else
            echo "$name: stopped"
            down=1
        fi
    done
    if ((down == 0)); then
        echo "SLURM_CONF=$SLURM_CONF"
        timeout 10 sinfo || down=1
    fi
    return "$down"
}

case $ACTION in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 start|stop|status [DIR]   (DIR default: \$EMOTRACE_SLURM_DIR or /tmp/emotrace-slurm)" >&2
        exit 64
        ;;
esac
