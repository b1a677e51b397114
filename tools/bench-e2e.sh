#!/usr/bin/env bash
# bench-e2e: issue 15's table, re-measured end to end on this machine.
#
# Starts `tamkeen dev` on a temporary data dir with the gateway's rate
# limits lifted (--rate-limits=) and the notification enabler's per-client
# limits raised, runs each `tamkeen load` scenario for BENCH_DURATION
# seconds, and right after it the reference it is compared with (the
# physical limit measured in the same run: /healthz, a bare SQLite commit
# loop, a bare argon2id loop, direct gRPC, pgbench), and prints a markdown
# table: figure, reference, ratio, and the exact commands. With
# BENCH_TARGETS="dev distributed" it does the same against `make
# run-distributed` (one process per service, PostgreSQL).
#
# Settings (environment):
#   BENCH_DURATION   seconds per measurement (default 10)
#   BENCH_BULK_SIZE  recipients of the bulk job (default 10000)
#   BENCH_TARGETS    dev and/or distributed (default: dev)
#   BENCH_ROUNDS     rounds of each figure and its reference, interleaved
#                    (figure, reference, figure, …); the row reports the
#                    round with the median ratio and lists every round's
#                    ratio (default 1)
#   BENCH_PROFILE    a directory: each figure measured against tamkeen dev
#                    (one process) is also CPU-profiled from its ops
#                    address (/debug/pprof/profile) for the length of the
#                    run; the profile and its `go tool pprof -top` are
#                    left there (<scenario>.pprof, <scenario>.top.txt)
#   TAMKEEN_TEST_POSTGRES_URL  a role that may create databases (pgbench,
#                    run-distributed)
# Needs Go and jq; pgbench (postgresql-contrib) for the PostgreSQL
# reference, skipped when absent. Not part of `make test`.
set -euo pipefail

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-1}
BULK=${BENCH_BULK_SIZE:-10000}
TARGETS=${BENCH_TARGETS:-dev}
PG_URL=${TAMKEEN_TEST_POSTGRES_URL:-postgres://tamkeen_test:tamkeen_test@127.0.0.1:5432/postgres?sslmode=disable}
CORES=$(nproc)

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v jq >/dev/null || { echo "bench-e2e needs jq (apt-get install jq)" >&2; exit 2; }
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -1 || true)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tamkeen-bench-e2e.XXXXXX")
PIDS=()
PGDB=""
DISTRIBUTED_PREFIX=""
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill -INT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -n $PGDB ]]; then
		psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1 || true
	fi
	if [[ -n $DISTRIBUTED_PREFIX ]]; then
		for svc in auth notification signature payment content gateway; do
			psql "$PG_URL" -qc "DROP DATABASE IF EXISTS ${DISTRIBUTED_PREFIX}$svc WITH (FORCE)" >/dev/null 2>&1 || true
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

echo "building tamkeen…" >&2
go build -o "$WORK/tamkeen" ./tools/tamkeen
T="$WORK/tamkeen"
ROWS="$WORK/rows.md"
CPUROWS="$WORK/cpu.md"
: >"$CPUROWS"
: >"$ROWS"

# The services' own limits that a load run would otherwise meet (each
# is a setting with a production default; dev reads the environment).
export TAMKEEN_CLIENT_MINUTE_LIMIT=100000000 TAMKEEN_CLIENT_DAILY_LIMIT=100000000

# start_dev NAME FLAGS…: runs tamkeen dev on a fresh data dir and free
# ports, and sets BASE, OPS, SECRET and GRPC (payment's gRPC address,
# from its log).
start_dev() {
	local name=$1
	shift
	local dir="$WORK/$name"
	mkdir -p "$dir"
	"$T" dev --data-dir "$dir/data" --http-addr 127.0.0.1:0 --ops-addr 127.0.0.1:0 "$@" >"$dir/stdout" 2>"$dir/stderr" &
	PIDS+=($!)
	for _ in $(seq 300); do
		grep -q '^Press Ctrl-C' "$dir/stdout" 2>/dev/null && break
		kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$dir/stderr" >&2; echo "tamkeen dev ($name) exited" >&2; exit 1; }
		sleep 0.2
	done
	grep -q '^Press Ctrl-C' "$dir/stdout" || { cat "$dir/stderr" >&2; echo "tamkeen dev ($name) not ready after 60 s" >&2; exit 1; }
	BASE=$(sed -n 's/^Tamkeen is running at //p' "$dir/stdout")
	OPS=$(sed -n 's/^  operations *\(http[^ ]*\).*/\1/p' "$dir/stdout")
	SECRET=$(cat "$dir/data/demo-client-secret")
	GRPC=$(grep '"grpc server listening"' "$dir/stderr" | grep '"service":"payment"' | sed 's/.*"addr":"\([^"]*\)".*/\1/' | head -1)
	echo "tamkeen dev ($name $*) at $BASE" >&2
}

# stop_last: stops the last process started.
stop_last() {
	local pid=${PIDS[-1]}
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	unset 'PIDS[-1]'
}

# load SCENARIO FLAGS…: one measurement; leaves its JSON result in OUT
# and the command in CMD.
load() {
	local scenario=$1
	shift
	CMD="tamkeen load $scenario $* --duration ${DURATION}s"
	echo "  $CMD" >&2
	"$T" load "$scenario" --base-url "$BASE" --ops-url "$OPS" --client-secret "$SECRET" \
		--duration "${DURATION}s" --progress=false -o json "$@" >"$WORK/out.json"
	OUT=$(cat "$WORK/out.json")
}

# fig JSON: "rate/s, p50 … ms, p99 … ms" (with the items' rate for bulk).
fig() {
	jq -r 'if .tps then "\(.tps | round) TPS, mean \(.mean_ms) ms"
	       elif (.items // 0) > 0 then
	         "\(.items) recipients in \(.seconds * 10 | round / 10) s: \(.item_rate | round)/s (p99 job \(.p99_ms | round) ms)"
	       else "\(.ok_rate | round)/s, p50 \(.p50_ms * 10 | round / 10) ms, p99 \(.p99_ms * 10 | round / 10) ms" end
	       + (if .errors > 0 then " (\(.errors) errors: \(.statuses | tostring))" else "" end)' <<<"$1"
}

# cpu JSON: where the cores went during the run ("1.87 of 2 busy:
# gateway 0.66, payment 0.56, …"), from tamkeen load's /proc reading.
cpu() {
	jq -r 'if .cpu then "\(.cpu.busy_cores * 100 | round / 100) of \(.cpu.cores) busy: "
	         + ([.cpu.processes[] | select(.cores >= 0.05) | "\(.name) \(.cores * 100 | round / 100)"] | join(", "))
	       else "—" end' <<<"$1"
}

# pgstat: the distributed target's databases' transaction and row
# counters (pg_stat_database), one line each: name commits inserted
# updated deleted.
pgstat() {
	psql "$PG_URL" -AtF' ' -c "SELECT substr(datname, length('$DISTRIBUTED_PREFIX') + 1), xact_commit, tup_inserted, tup_updated, tup_deleted
FROM pg_stat_database WHERE datname LIKE '${DISTRIBUTED_PREFIX//_/\\_}%' ORDER BY 1" 2>/dev/null
}

# pgper BEFORE AFTER UNITS: what each operation cost each database, from
# two pgstat readings ("payment 11.0 commits 13.8 ins 11.1 upd; …";
# databases under 0.05 commits an operation left out).
pgper() {
	[[ $3 -gt 0 ]] || { echo "—"; return; }
	paste -d' ' <(echo "$1") <(echo "$2") | awk -v n="$3" '
		{ c = ($7 - $2) / n; if (c >= 0.05) out = out sprintf("%s%s %.1f commits %.1f ins %.1f upd %.1f del", sep, $1, c, ($8 - $3) / n, ($9 - $4) / n, ($10 - $5) / n); if (c >= 0.05) sep = "; " }
		END { print (out == "" ? "—" : out) }'
}

# rate JSON: the figure's rate (items per second for bulk).
rate() { jq -r 'if .tps then .tps elif (.items // 0) > 0 then .item_rate else .ok_rate end' <<<"$1"; }

# row TARGET WORK GOAL FIGURE-ARGS -- REFERENCE-ARGS: measures the figure,
# then its reference, and appends the table row.
row() {
	local target=$1 work=$2 goal=$3
	shift 3
	local figArgs=() refArgs=()
	while [[ $# -gt 0 && $1 != -- ]]; do figArgs+=("$1"); shift; done
	shift
	refArgs=("$@")
	local f r fcmd rcmd prof=""
	if [[ -n ${BENCH_PROFILE:-} && $target == dev* && -n ${OPS:-} ]]; then
		mkdir -p "$BENCH_PROFILE"
		prof="$BENCH_PROFILE/${figArgs[0]}"
		curl -fsS -o "$prof.pprof" "$OPS/debug/pprof/profile?seconds=$((DURATION > 2 ? DURATION - 1 : 1))" &
		local curlpid=$!
	fi
	# Each round measures the figure, then its reference; the row is the
	# round whose ratio is the median (with one round, that round).
	local results=() round
	for ((round = 1; round <= ROUNDS; round++)); do
		local pgBefore=""
		[[ -n $DISTRIBUTED_PREFIX ]] && pgBefore=$(pgstat)
		load "${figArgs[@]}"
		f=$OUT fcmd=$CMD
		local pgCost="—"
		if [[ -n $pgBefore ]]; then
			sleep 2 # the statistics reach pg_stat_database within a second
			pgCost=$(pgper "$pgBefore" "$(pgstat)" "$(jq -r 'if (.items // 0) > 0 then .items else .ok end' <<<"$f")")
		fi
		if [[ -n $prof && $round == 1 ]]; then
			wait "$curlpid" || true
			go tool pprof -top -nodecount=25 "$T" "$prof.pprof" >"$prof.top.txt" 2>/dev/null || true
			printf '  profile: %s.pprof (%s.top.txt)\n' "$prof" "$prof" >&2
		fi
		if [[ ${refArgs[0]} == pgbench ]]; then
			pgbench_run
		else
			load "${refArgs[@]}"
		fi
		r=$OUT rcmd=$CMD
		round_result "$f" "$r" ref "$goal" "$pgCost"
		results+=("$RESULT")
	done
	median_row "$target" "$work" "$fcmd" "$rcmd" "${refArgs[0]}" "${results[@]}"
}

# round_result FIGURE REFERENCE REFLABEL GOAL PGCOST: prints one round's
# figure, reference and ratio, and leaves the round ({f, r, ratio, pg},
# as median_row takes it) in RESULT.
round_result() {
	local ratio
	ratio=$(jq -rn --argjson a "$(rate "$1")" --argjson b "$(rate "$2")" 'if $b > 0 then ($a / $b * 1000 | round / 1000) else 0 end')
	printf '    → %s | %s %s | ratio %s (goal %s)\n' "$(fig "$1")" "$3" "$(fig "$2")" "$ratio" "$4" >&2
	RESULT=$(jq -cn --argjson f "$1" --argjson r "$2" --argjson ratio "$ratio" --arg pg "$5" '{f: $f, r: $r, ratio: $ratio, pg: $pg}')
}

# median_row TARGET WORK FCMD RCMD REFNAME RESULT…: appends the table rows
# of the round whose ratio is the median of RESULTs (JSON objects {f, r,
# ratio, pg}), naming every round's ratio when there are several.
median_row() {
	local target=$1 work=$2 fcmd=$3 rcmd=$4 refname=$5
	shift 5
	local all m
	all=$(printf '%s\n' "$@" | jq -s 'sort_by(.ratio)')
	m=$(jq -c '.[(length - 1) / 2 | floor]' <<<"$all")
	local f r ratio
	f=$(jq -c .f <<<"$m") r=$(jq -c .r <<<"$m")
	ratio=$(jq -r '.ratio' <<<"$m")
	if [[ $# -gt 1 ]]; then
		ratio="$ratio (median of $(jq -r 'map(.ratio | tostring) | join(", ")' <<<"$all"))"
	fi
	printf '| %s | %s | %s | %s |\n' "$target" "$work" "$(cpu "$f")" "$(jq -r .pg <<<"$m")" >>"$CPUROWS"
	printf '| %s | %s | %s | %s: %s | %s | `%s` / `%s` |\n' "$target" "$work" "$(fig "$f")" "$refname" "$(fig "$r")" "$ratio" "$fcmd" "$rcmd" >>"$ROWS"
}

# pgbench_run: PostgreSQL's simple-update TPS on this machine (pgbench
# -N, 8 clients) on a scratch database; leaves {"tps", "mean_ms"} in OUT
# and the command in CMD.
pgbench_run() {
	CMD="pgbench -N -c 8 -j $CORES -T $DURATION"
	if [[ -z $PGBENCH ]]; then
		OUT='{"tps": 0, "mean_ms": "pgbench not installed"}'
		return
	fi
	PGDB="tamkeen_bench_pgbench_$$"
	psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null 2>&1
	psql "$PG_URL" -qc "CREATE DATABASE $PGDB" >/dev/null
	local url=${PG_URL/\/postgres\?//$PGDB?}
	"$PGBENCH" -q -i -s 8 "$url" >/dev/null 2>&1
	echo "  $CMD" >&2
	local out
	out=$("$PGBENCH" -N -c 8 -j "$CORES" -T "$DURATION" "$url" 2>/dev/null)
	psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PGDB" >/dev/null
	PGDB=""
	OUT=$(jq -n --argjson tps "$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)" \
		--arg mean "$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out" | head -1)" '{tps: $tps, mean_ms: $mean}')
}

# bench_target TARGET FEATURES WRITE-REF: issue 15's rows against BASE;
# WRITE-REF is the reference of the write paths (the target's database).
bench_target() {
	local target=$1 features=$2 wref=("${@:3}")
	row "$target" "client-credentials tokens, c=16" "≥ 2,000/s, p99 < 50 ms" token -c 16 -- ref-healthz -c 16
	row "$target" "SMS accepted through the gateway, c=8" "≥ 2,000/s" sms -c 8 -- "${wref[@]}"
	row "$target" "$BULK-recipient bulk job" "10⁶ in < 10 min (≥ 1,667/s)" bulk -c 1 --bulk-size "$BULK" -- "${wref[@]}"
	row "$target" "payment create, c=8" "≥ 1,000/s" payment -c 8 -- "${wref[@]}"
	row "$target" "payment create + sandbox confirm, c=8" "≥ 500/s" payment-confirm -c 8 -- "${wref[@]}"
	if [[ -n $GRPC ]]; then
		row "$target" "authenticated read through the gateway, $features, c=16" "≥ 0.8 × direct gRPC" read -c 16 -- ref-grpc-read -c 16 --grpc-addr "$GRPC"
	else
		row "$target" "authenticated read through the gateway, $features, c=16" "≥ 0.8 × direct gRPC" read -c 16 -- ref-healthz -c 16
	fi
	row "$target" "password login, c=8" "≥ 0.9 × raw argon2id" login -c 8 -- ref-argon2id -c "$CORES"
	row "$target" "public search, c=16" "" search -c 16 -- ref-healthz -c 16
	row "$target" "mixed (reads, payments, SMS, tokens, public pages), c=16" "" mixed -c 16 -- ref-healthz -c 16
}

for target in $TARGETS; do
	case $target in
	dev)
		start_dev dev --rate-limits=
		bench_target "dev (SQLite)" "all features on" ref-sqlite-commit -c 8
		# Public reads with every feature on, and on a second dev with the
		# gateway's features off (the issue's reference for this row),
		# both running, the two measured in turn.
		dev_on=("$BASE" "$OPS" "$SECRET")
		start_dev dev-off --rate-limits= --audit=false --enforce-rights=false --metering=false
		dev_off=("$BASE" "$OPS" "$SECRET")
		results=()
		for ((round = 1; round <= ROUNDS; round++)); do
			BASE=${dev_on[0]} OPS=${dev_on[1]} SECRET=${dev_on[2]}
			load public-read -c 16
			on=$OUT oncmd=$CMD
			BASE=${dev_off[0]} OPS=${dev_off[1]} SECRET=${dev_off[2]}
			load public-read -c 16
			off=$OUT
			round_result "$on" "$off" "features off" "≥ 0.8 × features off" "—"
			results+=("$RESULT")
		done
		offcmd="$CMD (tamkeen dev --rate-limits= --audit=false --enforce-rights=false --metering=false)"
		median_row "dev (SQLite)" "public content read, all features on, c=16" "$oncmd" "$offcmd" "features off" "${results[@]}"
		stop_last
		stop_last
		;;
	distributed)
		dir="$WORK/distributed"
		mkdir -p "$dir"
		go build -o "$WORK/run-distributed" ./tools/distributed/cmd/run-distributed
		DISTRIBUTED_PREFIX="tamkeen_bench_$$_"
		# Every feature of the security server stays on (rights, audit,
		# metering, on the gateway's PostgreSQL); its rate limits and
		# notification's per-client limits are lifted as for dev.
		"$WORK/run-distributed" --work-dir "$dir/work" --http-addr= --fresh --quiet \
			--db-prefix "$DISTRIBUTED_PREFIX" \
			--env "gateway.TAMKEEN_RATE_LIMITS=;notification.TAMKEEN_CLIENT_MINUTE_LIMIT=$TAMKEEN_CLIENT_MINUTE_LIMIT;notification.TAMKEEN_CLIENT_DAILY_LIMIT=$TAMKEEN_CLIENT_DAILY_LIMIT" \
			>"$dir/stdout" 2>"$dir/stderr" &
		PIDS+=($!)
		# It builds every binary first (minutes on two cores).
		for _ in $(seq 6000); do
			grep -q '^Press Ctrl-C' "$dir/stdout" 2>/dev/null && break
			kill -0 "${PIDS[-1]}" 2>/dev/null || { tail -30 "$dir/stderr" >&2; echo "run-distributed exited" >&2; exit 1; }
			sleep 0.2
		done
		grep -q '^Press Ctrl-C' "$dir/stdout" || { tail -30 "$dir/stderr" >&2; echo "run-distributed not ready after 20 min" >&2; exit 1; }
		BASE=$(sed -n 's/.*is running at \(http[^ ]*\).*/\1/p' "$dir/stdout")
		OPS=$(sed -n 's/^  operations *\(http[^ ]*\).*/\1/p' "$dir/stdout")
		SECRET=$(sed -n 's/^  demo client .*secret \(.*\)$/\1/p' "$dir/stdout")
		paylog=$(sed -n 's/^  payment .*log \(.*\)$/\1/p' "$dir/stdout")
		GRPC=$(grep -h '"grpc server listening"' "$paylog" | sed 's/.*"addr":"\([^"]*\)".*/\1/' | tail -1)
		echo "run-distributed at $BASE" >&2
		bench_target "distributed (PostgreSQL)" "all features on" pgbench
		stop_last
		;;
	*)
		echo "unknown BENCH_TARGETS entry $target (want dev, distributed)" >&2
		exit 2
		;;
	esac
done

echo
echo "### bench-e2e $(date -u +%Y-%m-%d) — ${DURATION} s per measurement, $CORES cores, load generator on the same machine"
echo
echo '| target | work | figure | reference | ratio | commands |'
echo '|---|---|---|---|---|---|'
cat "$ROWS"
echo
echo "Where the cores went during each figure (tamkeen load's reading of /proc; processes under 0.05 cores left out), and, on the PostgreSQL target, what one operation (one bulk recipient) cost each database (pg_stat_database: commits, rows inserted, updated, deleted):"
echo
echo '| target | work | cores | PostgreSQL per operation |'
echo '|---|---|---|---|'
cat "$CPUROWS"
