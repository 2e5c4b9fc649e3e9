#!/usr/bin/env bash
# Slurm integration test (make test-slurm; README "Past one machine").
#
# Installs Debian's slurm-wlm and munge when missing, starts munged,
# slurmctld and slurmd on this machine with a generated one-node slurm.conf
# (all their files in a temporary folder; nothing under /etc is changed),
# submits the smoke preset of the pact table as a 3-task job array with the
# scripts "mlsysrep slurm" writes (and its report job after it), waits, and
# checks that every cell has exactly one complete record and that the
# table printed from the records equals a single-process run's. The daemons
# it started are stopped on every exit, failure included.
#
# Needs root (the daemons run as root here; otherwise it runs itself with
# sudo) and takes about 30 s once the packages are installed.
set -euo pipefail
script=$(readlink -f "$0")
cd "$(dirname "$script")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}" GOEXPERIMENT="${GOEXPERIMENT:-simd}"
TABLE=pact
PRESET=smoke
TASKS=3

say() { echo "slurm-test: $*"; }
fail() { say "FAIL: $*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	# Build as the calling user (root would write into their Go caches),
	# then run the rest as root with that binary and a data cache of its
	# own.
	command -v sudo >/dev/null || fail "needs root (or sudo) to start the Slurm daemons"
	bindir=$(mktemp -d "${TMPDIR:-/tmp}/mlsysrep-slurm-bin.XXXXXX")
	say "building mlsysrep"
	go build -o "$bindir/mlsysrep" ./quant/cmd/mlsysrep
	exec sudo --preserve-env=MLSYSREP_ARCHIVES,PATH SLURM_TEST_BINARY="$bindir/mlsysrep" bash "$script" "$@"
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
	log=${TMPDIR:-/tmp}/mlsysrep-slurm-apt.log
	say "installing slurm-wlm and munge with apt (full log: $log)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } >"$log" 2>&1 ||
		{ tail -n 30 "$log"; fail "apt failed; full log in $log"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mlsysrep-slurm.XXXXXX")
chmod 755 "$work"
pids=()
cleanup() {
	status=$?
	scontrol shutdown >/dev/null 2>&1 && sleep 2 || true # slurmd and slurmctld end their steps first
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$status" != 0 ]; then
		for f in "$work"/log/* "$work"/out/slurm/*.out; do
			[ -f "$f" ] && { echo "--- $f (last 20 lines)"; tail -n 20 "$f"; }
		done
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

mkdir -p "$work"/munge "$work"/log "$work"/spool/ctld "$work"/spool/d "$work"/out "$work"/single
chmod 700 "$work"/munge
if [ -n "${SLURM_TEST_BINARY:-}" ]; then
	# Built by the calling user before sudo; removed with the test.
	cp "$SLURM_TEST_BINARY" "$work/mlsysrep"
	rm -rf "$(dirname "$SLURM_TEST_BINARY")"
else
	say "building mlsysrep"
	go build -o "$work/mlsysrep" ./quant/cmd/mlsysrep
fi
# Decoded data in the test's own cache, never the user's.
export MLSYSREP_DATA="$work/data"

# munge: a key of our own and a socket in the temporary folder.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
munged --force --foreground --key-file="$work/munge/munge.key" --socket="$socket" \
	--pid-file="$work/munge/munged.pid" --log-file="$work/log/munged.log" \
	--seed-file="$work/munge/munged.seed" >"$work/log/munged.out" 2>&1 &
pids+=($!)

node=$(hostname -s)
cat >"$work/slurm.conf" <<CONF
ClusterName=mlsysrep-ci
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
StateSaveLocation=$work/spool/ctld
SlurmdSpoolDir=$work/spool/d
SlurmctldPidFile=$work/spool/slurmctld.pid
SlurmdPidFile=$work/spool/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
NodeName=$node CPUs=2 State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
for i in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || fail "munged did not start"
slurmctld -D -i -f "$SLURM_CONF" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
for i in $(seq 60); do
	state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n1 || true)
	case "$state" in idle | mix | alloc) break ;; esac
	sleep 1
done
case "$state" in idle | mix | alloc) say "slurm is up (node $node: $state)" ;; *) fail "the node did not come up (state '$state')" ;; esac

say "single-process run of $TABLE at $PRESET (the reference)"
"$work/mlsysrep" run -table "$TABLE" -preset "$PRESET" -out "$work/single" >"$work/log/single.log" 2>&1 ||
	{ tail -n 20 "$work/log/single.log"; fail "the single-process run failed"; }

say "mlsysrep slurm -submit ($TASKS tasks)"
"$work/mlsysrep" slurm -table "$TABLE" -preset "$PRESET" -out "$work/out" -tasks "$TASKS" -submit >"$work/log/submit.log"
grep '^submitted:' "$work/log/submit.log"
array=$(sed -n 's/^submitted: array job \([0-9]*\), report job \([0-9]*\).*/\1/p' "$work/log/submit.log")
report=$(sed -n 's/^submitted: array job \([0-9]*\), report job \([0-9]*\).*/\2/p' "$work/log/submit.log")
[ -n "$array" ] && [ -n "$report" ] || fail "no job ids in the submit output"
start=$(date +%s)
while squeue -h -j "$array,$report" 2>/dev/null | grep -q .; do
	[ $(($(date +%s) - start)) -lt 900 ] || fail "the jobs did not finish in 15 minutes"
	sleep 2
done
say "jobs finished in $(($(date +%s) - start)) s"
for job in "$array" "$report"; do
	bad=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | grep -v COMPLETED || true)
	[ -z "$bad" ] || fail "job $job ended $bad"
done

# Every cell: exactly one record, complete (the report prints every cell).
cells=$("$work/mlsysrep" run -table "$TABLE" -preset "$PRESET" -list 2>/dev/null |
	awk -v t="table $TABLE " 'index($0, t) == 1 { on = 1; next } /^table / { on = 0 } on { for (i = 1; i <= NF; i++) print $i }')
n=0
for cell in $cells; do
	file=$(echo "$cell" | sed 's#/#__#; s#:#_#g')
	count=$(find "$work/out/$PRESET/$TABLE" -name "$file.seed1.*.json" | wc -l)
	[ "$count" = 1 ] || fail "cell $cell has $count records"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no cells listed for $TABLE"
say "$n cells, one record each"
for i in $(seq 0 $((TASKS - 1))); do
	f=$(ls "$work"/out/slurm/mlsysrep-"$TABLE-$PRESET"-"${array}"_"$i".out 2>/dev/null || true)
	[ -n "$f" ] || fail "no output of array task $i"
done
[ -s "$work/out/RESULTS-$PRESET.md" ] || fail "the report job wrote no RESULTS-$PRESET.md"

# The table from the records equals the single-process run's.
"$work/mlsysrep" run -table "$TABLE" -preset "$PRESET" -report -out "$work/out" | grep '^|' >"$work/log/array-table.md"
"$work/mlsysrep" run -table "$TABLE" -preset "$PRESET" -report -out "$work/single" | grep '^|' >"$work/log/single-table.md"
[ -s "$work/log/single-table.md" ] || fail "the single-process run printed no table"
diff -u "$work/log/single-table.md" "$work/log/array-table.md" || fail "the array's table differs from the single-process run's"
say "ok: the array's table equals the single-process run's ($(wc -l <"$work/log/array-table.md") lines)"
