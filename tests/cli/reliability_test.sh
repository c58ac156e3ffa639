#!/usr/bin/env bash
# reliability_test.sh WEFT -- server mode under failure, with real processes on 127.0.0.1: a
# `weft serve`, three `weft worker`s and a 1,000-job lattice workflow, and in each scenario one
# part is hurt mid-run:
#   a) SIGKILL a worker          b) SIGSTOP a worker, later SIGCONT it
#   c) SIGKILL the server, restart it on the same state and ports
#   d) hostile frames on the board and client ports (reliability_fuzz.py, and raw bytes from
#      bash's /dev/tcp), then a frame-size probe of every port
# Each scenario has its own state directory and log.  Every job's command appends
# "<job> <attempt> <worker>" to LOG when it starts and to DONE when it ends (O_APPEND writes of
# one short line are atomic), sleeping 20..50 ms between, so kills land mid-job.  Then, always:
# every job is done; each job's recorded attempt ran; every job ran exactly once, except jobs
# whose worker was lost while running them (those twice at most, the second time with a
# higher attempt).  Scenario-specific checks are described where they are made.
#
# Invariants of the script: it only ever connects to 127.0.0.1; waits poll with generous
# deadlines (nothing depends on timing); every process it starts is in `started` and is ended
# by the EXIT trap (a stopped one is continued first); it prints "N passed, N failed" last.
# A check marked `known` is an engine bug reported and not yet fixed: it is printed as
# KNOWN-FAIL and not counted, and says so once it passes.
# Workload: about 10-20 s per scenario on 2 cores, release or ASan (under a minute in all).
# Environment: RELTEST_KEEP=1 keeps the temp directory; RELTEST_HEARTBEAT=MS overrides the
# heartbeat (default 200, 500 in a sanitizer build); RELTEST_ONLY="a c" runs those scenarios.
set -uo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d /tmp/weft-reliability.XXXXXX)
TAG=$(basename "$T")
ONLY=${RELTEST_ONLY:-a b c d}

# A sanitizer build runs slower: a 200 ms heartbeat would declare healthy workers lost.
if [ -n "${RELTEST_HEARTBEAT:-}" ]; then
    HB=$RELTEST_HEARTBEAT
elif grep -qa __asan_init "$WEFT" 2>/dev/null; then
    HB=500
else
    HB=200
fi

# Every process this script started and has not reaped yet, by pid.  A pid leaves the set when
# it is reaped (wait), so a signal never reaches a recycled pid that belongs to someone else.
declare -A started
spawned() { started[$1]=1; }
reap() { wait "$1" 2>/dev/null; local st=$?; unset "started[$1]"; return $st; }
# end_all: every started process still here gets SIGCONT and SIGTERM, then SIGKILL if it
# lingers; all are reaped
end_all() {
    local p i any
    for p in "${!started[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 100); do
        any=
        for p in "${!started[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
        [ -z "$any" ] && break
        sleep 0.1
    done
    for p in "${!started[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${!started[@]}"; do reap "$p"; done
}
cleanup() {
    end_all
    if [ "${RELTEST_KEEP:-}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

passes=0
fails=0
knowns=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# known WHY WHAT CMD...: a check that fails because of an engine bug already reported (WHY).
known() {
    local why=$1 what=$2; shift 2
    if "$@"; then
        pass "$what  (marked as a known failure, yet passed: if it keeps passing, unmark it)"
    else
        echo "KNOWN-FAIL - $what: $why"
        knowns=$((knowns + 1))
    fi
}
note() { echo "# $*"; }
# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds or SECONDS have passed
# (CMD itself must not block for long: client verbs in polls get --timeout 2)
wait_for() {
    local end=$((SECONDS + $1)); shift
    while :; do
        "$@" && return 0
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
at_least_lines() { [ "$(lines "$1")" -ge "$2" ]; }
# stopped PID: the process is in state T (stopped by a signal)
stopped() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ]; }
# ends_within SECONDS PID: PID ends within the deadline; sets erc to its exit status
ends_within() {
    erc=
    wait_for "$1" dead "$2" || return 1
    erc=0
    reap "$2" || erc=$?
    return 0
}

# ---- the workflow: 20 layers x 50 jobs, each needing 2 or 3 seeded-random jobs of the layer
# before ----
JOBS=1000
gen_lattice() { # gen_lattice OUT LOG DONE SEED
    local out=$1 log=$2 done=$3 l j n p id s
    local needs=()
    RANDOM=$4
    {
        echo "name: lattice"
        echo "jobs:"
        for l in $(seq 0 19); do
            for j in $(seq 0 49); do
                printf -v id 'l%02dj%02d' "$l" "$j"
                echo "  $id:"
                if [ "$l" -gt 0 ]; then
                    n=$((2 + RANDOM % 2))
                    needs=()
                    while [ ${#needs[@]} -lt $n ]; do
                        printf -v p 'l%02dj%02d' $((l - 1)) $((RANDOM % 50))
                        case " ${needs[*]} " in *" $p "*) ;; *) needs+=("$p") ;; esac
                    done
                    echo "    needs: [$(IFS=,; echo "${needs[*]}")]"
                fi
                s=$((2 + RANDOM % 4))
                echo "    run: 'echo \"\$WEFT_JOB \$WEFT_ATTEMPT \$RELTEST_WORKER\" >> $log;" \
                    "sleep 0.0$s; echo \"\$WEFT_JOB \$WEFT_ATTEMPT \$RELTEST_WORKER\" >> $done'"
            done
        done
    } >"$out"
}

# ---- processes ----
# w ARGS...: weft in $D, stdout/stderr to $D/out.txt, $D/err.txt; sets rc
w() { rc=0; (cd "$D" && "$WEFT" "$@") >"$D/out.txt" 2>"$D/err.txt" || rc=$?; }
ws() { local verb=$1; shift; w "$verb" --server "$SERVER" "$@"; }
has() { grep -qE -- "$1" "$D/out.txt"; }
answers() { ws workers --timeout 2 && [ "$rc" = 0 ]; }
# bound_or_gone LOG: the server printed its endpoints (it binds before), or its process ended
bound_or_gone() { dead "$serve_pid" || grep -q '^  events ' "$1"; }
# up LOG: bound and answering -- this server, not another one on the same port
up() { alive "$serve_pid" && wait_for 60 bound_or_gone "$1" && alive "$serve_pid" && \
    wait_for 60 answers; }

start_serve_on() { # start_serve_on PORT LOGFILE
    (cd "$D" && exec "$WEFT" serve --state "$D/state" --bind "tcp://127.0.0.1:$1" \
        --heartbeat "$HB" -v) >>"$2" 2>&1 &
    serve_pid=$!
    spawned "$serve_pid"
    SERVER="tcp://127.0.0.1:$1"
}

# start_server: a fresh server on a free port (PORT, PORT+1, PORT+2); sets PORT, SERVER
start_server() {
    local try
    serve_pid=
    for try in $(seq 1 20); do
        PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
        : >"$D/serve.log"
        start_serve_on "$PORT" "$D/serve.log"
        # A bind failure ends the process.
        if up "$D/serve.log"; then
            return 0
        fi
        alive "$serve_pid" && kill -KILL "$serve_pid" # up but silent: give up on it
        reap "$serve_pid"
        serve_pid=
        if ! grep -q "Address already in use" "$D/serve.log"; then
            echo "weft serve did not start:"
            cat "$D/serve.log"
            return 1
        fi
    done
    return 1
}

declare -A wpid
start_worker() { # start_worker NAME SLOTS
    (cd "$D" && RELTEST_WORKER=$1 RELTEST_TAG=$TAG-$SCEN exec "$WEFT" worker \
        --connect "$SERVER" --slots "$2" --name "$1" --logs "$D/logs-$1" \
        --heartbeat "$HB" --give-up 120) >>"$D/$1.log" 2>&1 &
    wpid[$1]=$!
    spawned "$!"
}

# workers_are NAMES...: `weft workers` lists exactly these (in any order)
workers_are() {
    ws workers --timeout 2 || return 1
    local want got
    want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    got=$(awk 'NR > 1 && $1 != "no" {print $1}' "$D/out.txt" | sort | tr '\n' ' ')
    [ "$want" = "$got" ]
}
# worker_idle NAME: listed, with nothing running
worker_idle() { ws workers --timeout 2 && awk -v n="$1" '$1 == n && $6 == 0 {f = 1} END {exit !f}' "$D/out.txt"; }

# procs_of WORKER: pids of processes (job shells, their children) started by WORKER in this
# scenario, found by the environment the worker passed down
procs_of() {
    local e p
    for e in $(grep -lzx "RELTEST_TAG=$TAG-$SCEN" /proc/[0-9]*/environ 2>/dev/null); do
        grep -qzx "RELTEST_WORKER=$1" "$e" 2>/dev/null || continue
        p=${e#/proc/}
        p=${p%/environ}
        [ "$p" = "${wpid[$1]}" ] || echo "$p"
    done
}
no_procs_of() { [ -z "$(procs_of "$1")" ]; }
no_procs_left() { no_procs_of w1 && no_procs_of w2 && no_procs_of w3; }

# scenario_start NAME SEED: $D, the workflow, a server and workers w1 (2 slots), w2 (3), w3 (4)
scenario_start() {
    SCEN=$1
    D=$T/$1
    mkdir -p "$D"
    gen_lattice "$D/lattice.yml" "$D/log" "$D/done" "$2"
    : >"$D/log"
    : >"$D/done"
    wpid=()
    if ! start_server; then
        fail "$SCEN: weft serve starts"
        return 1
    fi
    note "scenario $SCEN: server on $SERVER (pid $serve_pid), heartbeat $HB ms"
    start_worker w1 2
    start_worker w2 3
    start_worker w3 4
    if ! wait_for 60 workers_are w1 w2 w3; then
        fail "$SCEN: the three workers join"
        cat "$D/out.txt" "$D"/w*.log
        return 1
    fi
    return 0
}

# submit_bg [TIMEOUT]: `weft submit --wait` in the background; sets sub_pid and REQ
submit_bg() {
    (cd "$D" && exec "$WEFT" submit --wait lattice.yml --server "$SERVER" \
        --timeout "${1:-10}") >"$D/submit.out" 2>"$D/submit.err" &
    sub_pid=$!
    spawned "$sub_pid"
    REQ=
    if wait_for 60 grep -qE '^[0-9]+$' "$D/submit.out"; then
        REQ=$(head -1 "$D/submit.out")
        return 0
    fi
    fail "$SCEN: submit prints the request id"
    cat "$D/submit.out" "$D/submit.err"
    return 1
}

# scenario_stop: SIGTERM every worker still there and the server; each must exit 0
scenario_stop() {
    local n p ok=1
    for n in "${!wpid[@]}"; do
        p=${wpid[$n]}
        alive "$p" || continue
        kill -CONT "$p" 2>/dev/null
        kill -TERM "$p"
        if ! ends_within 60 "$p" || [ "$erc" != 0 ]; then
            ok=
            echo "# worker $n: exit ${erc:-none}"
        fi
    done
    if [ -n "$serve_pid" ] && alive "$serve_pid"; then
        kill -TERM "$serve_pid"
        if ! ends_within 60 "$serve_pid" || [ "$erc" != 0 ]; then
            ok=
            echo "# server: exit ${erc:-none}"
        fi
    fi
    check "$SCEN: server and workers stop cleanly on SIGTERM (exit 0)" [ -n "$ok" ]
    check "$SCEN: no job process is left behind" wait_for 30 no_procs_left
}

# final_status: `weft status --server REQ` into $D/status.txt; checks it succeeded, all done
final_status() {
    ws status "$REQ" --timeout 30
    cp "$D/out.txt" "$D/status.txt"
    check "$SCEN: status --server answers" [ "$rc" = 0 ]
    check "$SCEN: the request succeeded" grep -qE '^state: +succeeded$' "$D/status.txt"
    check "$SCEN: all $JOBS jobs are done" \
        [ "$(awk '$1 ~ /^l[0-9][0-9]j[0-9][0-9]$/ && $2 == "done"' "$D/status.txt" | wc -l)" \
        = "$JOBS" ]
    check "$SCEN: no job failed" \
        [ "$(awk '$1 ~ /^l[0-9][0-9]j[0-9][0-9]$/ && $2 == "failed"' "$D/status.txt" | wc -l)" \
        = 0 ]
}

# log_rule MODE ARG: the log rule, from $D/log and $D/status.txt.  Duplicates (a job that ran
# twice) are allowed only where MODE says:
#   worker NAME  the lower attempt ran on worker NAME (it was lost while running the job)
#   jobs FILE    the job is listed in FILE (one id a line)
#   none         nowhere
# Always: no job ran three times; the two runs of a job are different attempts, the higher
# one not on the lost worker; each job's recorded attempt (ATTEMPTS in status) is in the log.
# Writes the violations to $D/violations.txt and the duplicated jobs to $D/dups.txt.
log_rule() {
    local mode=$1 arg=${2:-}
    awk -v mode="$mode" -v arg="$arg" -v jobs="$JOBS" -v dups="$D/dups.txt" '
        FILENAME == ARGV[1] { allowed[$1] = 1; next }                # the jobs FILE (or /dev/null)
        FILENAME == ARGV[2] {                                        # status
            if ($1 ~ /^l[0-9][0-9]j[0-9][0-9]$/) { final[$1] = $3; nstatus++ }
            next
        }
        {                                                            # the log
            n[$1]++
            att[$1, n[$1]] = $2
            wrk[$1, n[$1]] = $3
            ran[$1, $2] = 1
        }
        END {
            bad = 0
            if (nstatus != jobs) { print "status lists " nstatus " jobs, not " jobs; bad++ }
            for (j in final) {
                if (!(j in n)) { print j ": never ran"; bad++; continue }
                if (!((j, final[j]) in ran)) {
                    print j ": its recorded attempt " final[j] " is not in the log"; bad++
                }
            }
            for (j in n) {
                if (!(j in final)) { print j ": in the log but not in the request"; bad++ }
                if (n[j] == 1) continue
                print j > dups
                if (n[j] > 2) { print j ": ran " n[j] " times"; bad++; continue }
                a1 = att[j, 1] + 0; a2 = att[j, 2] + 0
                lo = a1 < a2 ? 1 : 2; hi = 3 - lo
                if (a1 == a2) { print j ": attempt " a1 " ran twice"; bad++; continue }
                if (mode == "none") {
                    print j ": ran twice (attempts " a1 ", " a2 ")"; bad++
                } else if (mode == "worker" && (wrk[j, lo] != arg || wrk[j, hi] == arg)) {
                    print j ": ran twice, attempt " att[j, lo] " on " wrk[j, lo] " then " \
                        att[j, hi] " on " wrk[j, hi] "; only a job lost with " arg " may"; bad++
                } else if (mode == "jobs" && !(j in allowed)) {
                    print j ": ran twice (attempts " a1 " on " wrk[j, 1] ", " a2 " on " \
                        wrk[j, 2] "), yet it was not running when the server died"; bad++
                }
            }
            exit (bad > 0 ? 1 : 0)
        }' "$([ "$mode" = jobs ] && echo "$arg" || echo /dev/null)" \
        "$D/status.txt" "$D/log" >"$D/violations.txt"
}
show_violations() { head -20 "$D/violations.txt" | sed 's/^/#   /'; }

check_log_rule() { # check_log_rule WHAT MODE ARG
    local what=$1
    : >"$D/dups.txt"
    if log_rule "$2" "${3:-}"; then
        pass "$SCEN: $what"
    else
        fail "$SCEN: $what"
        show_violations
    fi
    note "$SCEN: $(lines "$D/log") runs logged, $(sort -u "$D/dups.txt" | wc -l) job(s) ran twice"
}

run_finished() { dead "$sub_pid"; }
# wait_run: the background `weft submit --wait` ends; sets subrc
wait_run() {
    subrc=
    if ends_within "${1:-300}" "$sub_pid"; then subrc=$erc; fi
}

# ======================================================================================
# a) SIGKILL one worker mid-run
scenario_a() {
    scenario_start a 101 || return
    submit_bg || return
    check "a: the run gets going (200 jobs started)" wait_for 120 at_least_lines "$D/log" 200
    local nprocs
    nprocs=$(procs_of w2 | wc -l)
    kill -KILL "${wpid[w2]}"
    note "a: SIGKILL w2 (pid ${wpid[w2]}) after $(lines "$D/log") job starts;" \
        "it had $nprocs job process(es)"
    check "a: the killed worker's jobs die with it" wait_for 30 no_procs_of w2
    wait_run 300
    check "a: weft submit --wait exits 0" [ "$subrc" = 0 ]
    check "a: ... reporting success" grep -qE 'succeeded in .*: 1000 done$' "$D/submit.out"
    check "a: the server saw w2's connection drop" \
        grep -qE 'WEFT-BOARD-LOST: consumer w2 .*lost: its connection dropped' "$D/serve.log"
    check "a: only w2 was lost" \
        [ "$(grep -cE 'WEFT-BOARD-LOST: consumer w[13] ' "$D/serve.log")" = 0 ]
    final_status
    check_log_rule "every job ran once, except those w2 was running (twice, higher attempt)" \
        worker w2
    check "a: the remaining workers are w1 and w3" workers_are w1 w3
    scenario_stop
}

# b) SIGSTOP one worker mid-run, SIGCONT it once the run is over
scenario_b() {
    scenario_start b 202 || return
    submit_bg || return
    check "b: the run gets going (200 jobs started)" wait_for 120 at_least_lines "$D/log" 200
    kill -STOP "${wpid[w2]}"
    note "b: SIGSTOP w2 (pid ${wpid[w2]}) after $(lines "$D/log") job starts"
    wait_run 300
    check "b: the run completes without the stopped worker (submit --wait exits 0)" \
        [ "$subrc" = 0 ]
    check "b: ... while w2 is still stopped" stopped "${wpid[w2]}"
    check "b: w2 was declared lost for its silence" \
        grep -qE 'WEFT-BOARD-LOST: consumer w2 .*lost: silent for the liveness window' \
        "$D/serve.log"
    local requeued
    requeued=$(grep -E 'WEFT-BOARD-LOST: consumer w2 ' "$D/serve.log" | head -1 |
        sed -nE 's/.*; ([0-9]+) attempt\(s\) requeued.*/\1/p')
    note "b: w2 held ${requeued:-?} attempt(s) when it was declared lost"
    check "b: the stop landed mid-job (w2's attempts were requeued)" [ "${requeued:-0}" -ge 1 ]
    check "b: only w2 was lost" \
        [ "$(grep -cE 'WEFT-BOARD-LOST: consumer w[13] ' "$D/serve.log")" = 0 ]
    check "b: weft workers no longer lists w2" workers_are w1 w3
    ws status "$REQ" --timeout 30
    cp "$D/out.txt" "$D/status-before-cont.txt"

    kill -CONT "${wpid[w2]}"
    note "b: SIGCONT w2"
    # It finds itself forgotten, registers again and re-sends what it finished meanwhile;
    # the board acknowledges those reports and ignores them (fenced).
    check "b: w2 comes back and its late reports are consumed" wait_for 60 worker_idle w2
    final_status
    # The jobs w2 was running went on while it was stopped (they are processes of their own),
    # so it came back with outcomes for attempts the board had since handed to others.  The
    # board's stale-report counter is not visible from outside (WEFT-BOARD-STALE is a debug
    # line, and `serve -v` logs info), so this is shown by the outcomes themselves.
    local late
    late=$(awk 'FILENAME == ARGV[1] { if ($1 ~ /^l[0-9][0-9]j/) final[$1] = $3; next }
                $3 == "w2" && ($1 in final) && $2 + 0 < final[$1] + 0' \
        "$D/status.txt" "$D/done" | wc -l)
    note "b: w2 finished $late superseded attempt(s) while stopped, and reported them late"
    check "b: w2 had late outcomes to report (its jobs ended while it was stopped)" \
        [ "$late" -ge 1 ]
    check "b: the late reports changed no job (states and attempts as before SIGCONT)" \
        cmp -s <(awk '$1 ~ /^l[0-9][0-9]j/ {print $1, $2, $3}' "$D/status-before-cont.txt") \
        <(awk '$1 ~ /^l[0-9][0-9]j/ {print $1, $2, $3}' "$D/status.txt")
    check_log_rule "every job ran once, except those w2 was running (twice, then elsewhere)" \
        worker w2
    scenario_stop
}

# c) SIGKILL the server mid-run, restart it on the same state and ports
scenario_c() {
    scenario_start c 303 || return
    # A long --timeout: the waiting client rides out the server's absence.
    submit_bg 60 || return
    check "c: the run gets going (300 jobs started)" wait_for 120 at_least_lines "$D/log" 300
    # What had finished before the kill: the jobs the server called done just before it (a
    # reply goes out only after its turn's commit, so these are durable), and, less strictly,
    # the commands that had ended (their outcome may not have reached the server).
    ws status "$REQ" --timeout 10
    awk '$1 ~ /^l[0-9][0-9]j[0-9][0-9]$/ && $2 == "done" {print $1}' "$D/out.txt" |
        sort -u >"$D/durable-before"
    cp "$D/done" "$D/done-before-kill"
    kill -KILL "$serve_pid"
    reap "$serve_pid"
    note "c: SIGKILL the server after $(lines "$D/log") job starts," \
        "$(lines "$D/done-before-kill") ends, $(lines "$D/durable-before") recorded done"
    check "c: the server had recorded jobs done before the kill" \
        [ "$(lines "$D/durable-before")" -ge 100 ]
    # Down for a while: longer than the liveness window, so the workers notice, reconnect
    # with backoff, and finish jobs whose reports must wait for the new server.
    check "c: the workers notice the server is gone" \
        wait_for 60 grep -q "no word from the board" "$D"/w1.log "$D"/w2.log "$D"/w3.log
    sleep 1
    cp "$D/log" "$D/log-at-restart"
    start_serve_on "$PORT" "$D/serve2.log"
    check "c: the server restarts on the same state and ports" up "$D/serve2.log"
    check "c: the three workers reconnect" wait_for 60 workers_are w1 w2 w3
    wait_run 300
    check "c: the weft submit --wait that was following it across the restart exits 0" \
        [ "$subrc" = 0 ]
    ws watch "$REQ" --timeout 30
    check "c: weft watch after the restart: the request succeeded" [ "$rc" = 0 ]
    final_status
    # Jobs handed out before the kill and not recorded done by then ("held": still running,
    # or ended with their outcome not yet durable) may have run twice; no other job.
    awk '{print $1}' "$D/log-at-restart" | sort -u | comm -23 - "$D/durable-before" \
        >"$D/held-at-kill"
    awk '{print $1}' "$D/done-before-kill" | sort -u | comm -12 - "$D/held-at-kill" \
        >"$D/ended-unrecorded"
    check_log_rule "every job ran once, except (at most) those held by workers at the kill" \
        jobs "$D/held-at-kill"
    local again
    again=$(sort -u "$D/dups.txt" | comm -12 - "$D/durable-before" | wc -l)
    check "c: no job recorded done before the kill ran again" [ "$again" = 0 ]
    local held_dups ended_dups
    held_dups=$(sort -u "$D/dups.txt" | comm -12 - "$D/held-at-kill" | wc -l)
    ended_dups=$(sort -u "$D/dups.txt" | comm -12 - "$D/ended-unrecorded" | wc -l)
    note "c: $(lines "$D/held-at-kill") job(s) held by workers at the kill" \
        "($(lines "$D/ended-unrecorded") of them had ended, outcome not yet recorded);" \
        "$held_dups ran again ($ended_dups of the ended ones)"
    # On restart the jobs that were running wait for their workers to reconnect and re-adopt
    # them (engine/dispatcher.c, the resume path's grace period) before anyone else may take them.
    check "c: the jobs the workers held were re-adopted, not run again" [ "$held_dups" = 0 ]
    check "c: no worker was lost after the restart" \
        [ "$(grep -c 'WEFT-BOARD-LOST' "$D/serve2.log")" = 0 ]
    scenario_stop
}

# d) hostile frames on every port while the run goes on
raw_tcp_garbage() { # raw_tcp_garbage PORT COUNT: bytes from /dev/urandom, no handshake
    local i n
    for i in $(seq 1 "$2"); do
        n=$((1 + RANDOM % 3000))
        (exec 3<>"/dev/tcp/127.0.0.1/$1" && head -c "$n" /dev/urandom >&3) 2>/dev/null
    done
}

# refuses_huge_frame PORT: a ZMTP 2.0 peer announcing a 1 GiB frame is disconnected at once.
# A socket with ZMQ_MAXMSGSIZE refuses the size (EMSGSIZE) and closes; one without it
# allocates the gigabyte and waits for the bytes.  (Announcing 2^40 instead makes a sanitizer
# build abort in libzmq's malloc, and any raw garbage starting with 0xff can announce such a
# size: that is why the event port gets no random garbage until it passes this probe.)
refuses_huge_frame() {
    local fd st
    exec {fd}<>"/dev/tcp/127.0.0.1/$1" || return 1
    # signature, revision 1 (ZMTP 2.0), socket type SUB, then a long frame of 2^30 bytes
    printf '\xff\x00\x00\x00\x00\x00\x00\x00\x00\x7f\x01\x02\x02\x00\x00\x00\x00\x40\x00\x00\x00' \
        >&"$fd" 2>/dev/null
    timeout 10 cat <&"$fd" >/dev/null 2>&1
    st=$?
    exec {fd}>&-
    [ "$st" = 0 ] # cat saw end of file: the server closed the connection
}

fuzz_counts() { # fuzz_counts ENDPOINT KEY: a number from the fuzzer's summary line
    sed -nE "s/^fuzz $1: .* $2=([0-9]+)( .*|$)/\1/p" "$D/fuzz.out"
}
# every_connection_answered: the client port answered a valid request after the garbage on
# every fuzzing connection
every_connection_answered() {
    local hs answered
    hs=$(fuzz_counts client handshakes)
    answered=$(fuzz_counts client answered_after_garbage)
    [ -n "$hs" ] && [ "$hs" -ge 1 ] && [ "$hs" = "$answered" ]
}

scenario_d() {
    scenario_start d 404 || return
    submit_bg || return
    : >"$D/fuzz.out"
    local fuzz_pid= have_py=
    if command -v python3 >/dev/null 2>&1; then
        have_py=1
        python3 "$HERE/reliability_fuzz.py" --port "$PORT" --req "$REQ" --jobs "$JOBS" \
            --seconds 90 --stop-file "$D/stop-fuzz" --seed 404 --log "$D/log" --done "$D/done" \
            >"$D/fuzz.out" 2>&1 &
        fuzz_pid=$!
        spawned "$fuzz_pid"
    else
        note "d: SKIP the ZMTP/msgpack part: no python3 (only raw TCP garbage is sent)"
    fi
    local round
    for round in 1 2 3 4 5; do
        run_finished && break
        raw_tcp_garbage "$PORT" 10
        raw_tcp_garbage $((PORT + 1)) 10
    done
    wait_run 300
    : >"$D/stop-fuzz"
    if [ -n "$have_py" ]; then
        local frc=
        if ends_within 120 "$fuzz_pid"; then frc=$erc; fi
        sed 's/^/# /' "$D/fuzz.out"
        check "d: the fuzzer got through ZMTP handshakes on the board and client ports" \
            [ "$frc" = 0 ]
        check "d: the server answered malformed frames with ERROR" \
            grep -qE 'error_replies=[1-9]' "$D/fuzz.out"
        check "d: ... and still answered a valid request on each of those connections" \
            every_connection_answered
        check "d: the board logged the dropped frames (WEFT-PROTO-DROP)" \
            grep -q 'WEFT-PROTO-DROP' "$D/serve.log"
        note "d: forged reports for attempts running at the time: $(fuzz_counts board forged_live)"
    fi
    check "d: the run completes under fire (submit --wait exits 0)" [ "$subrc" = 0 ]
    check "d: the server is still up" alive "$serve_pid"
    check "d: ... and answers" answers
    check "d: no real worker was lost" \
        [ "$(grep -cE 'WEFT-BOARD-LOST: consumer w[123] ' "$D/serve.log")" = 0 ]
    check "d: fuzzing consumers are gone once their connections closed" \
        wait_for 60 workers_are w1 w2 w3
    final_status
    check_log_rule "every job ran exactly once" none

    # Frame-size bounds, port by port.  The board (1 MiB + 64 KiB) and the client endpoint
    # (256 MiB) set ZMQ_MAXMSGSIZE; the event publisher does not (engine/server.c, where
    # srv->pub is made), so anyone who can reach it makes the server allocate what it claims.
    check "d: the board port drops a peer announcing a 1 GiB frame" refuses_huge_frame "$PORT"
    check "d: the client port drops a peer announcing a 1 GiB frame" \
        refuses_huge_frame $((PORT + 1))
    check "d: the event port drops a peer announcing a 1 GiB frame" \
        refuses_huge_frame $((PORT + 2))
    raw_tcp_garbage $((PORT + 2)) 30
    if [ -n "$have_py" ]; then
        python3 "$HERE/reliability_fuzz.py" --port "$PORT" --req "$REQ" --jobs "$JOBS" \
            --seconds 5 --seed 405 --events >"$D/fuzz-events.out" 2>&1
    fi
    check "d: the server survives garbage on the event port" answers
    check "d: the server is up after the probes" alive "$serve_pid"
    scenario_stop
}

note "weft: $WEFT; temp: $T"
for s in $ONLY; do
    t0=$SECONDS
    "scenario_$s"
    note "scenario $s took $((SECONDS - t0)) s"
    # Whatever a scenario left (it returned early), end it before the next one.
    end_all
done
[ "$knowns" = 0 ] || note "$knowns known failure(s): engine bugs reported, not counted"
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
