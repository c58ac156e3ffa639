#!/usr/bin/env bash
# server_test.sh WEFT -- server mode end to end: `weft serve` on a free port, a `weft worker`
# connected to it, and the client verbs (submit, watch, cancel, retry, workers, pause, resume,
# drain, status --server, why --server, dot --server, logs --server) driving real requests over
# TCP; logs --server fetches a job's output from the worker that ran it, until that worker is
# gone.
# Waits poll with generous deadlines; nothing here depends on timing.  Every process the script
# starts is killed by the EXIT trap.
set -euo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the checks run in $T
T=$(mktemp -d /tmp/weft-server-test.XXXXXX)
serve_pid=
worker_pid=
bg_pids=()
cleanup() {
    local p
    for p in "${bg_pids[@]}" $worker_pid $serve_pid; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${bg_pids[@]}" $worker_pid $serve_pid; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
passes=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; show; fi; }
# has PATTERN / err_has PATTERN: grep -E in the last command's stdout / stderr
has() { grep -qE -- "$1" "$T/out.txt"; }
err_has() { grep -qE -- "$1" "$T/err.txt"; }
# w ARGS...: run weft in $T, stdout/stderr to files; sets rc (never trips set -e)
w() { rc=0; (cd "$T" && "$WEFT" "$@") >"$T/out.txt" 2>"$T/err.txt" || rc=$?; }
# ws VERB ARGS...: a client verb against the server under test
ws() { local verb=$1; shift; w "$verb" --server "$SERVER" "$@"; }
# wait_for CMD...: poll up to 60 s
wait_for() {
    local i
    for i in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.1; done
    return 1
}
show() { echo "--- stdout:"; cat "$T/out.txt"; echo "--- stderr:"; cat "$T/err.txt"; }
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
# job_is REQ JOB STATE: `weft status --server` shows JOB in STATE
job_is() { ws status "$1" && has "^$2 +$3( |\$)"; }
answers() { ws workers --timeout 1 && [ "$rc" = 0 ]; }
# up_or_gone: the server answers, or its process ended (a port already in use)
up_or_gone() { dead "$serve_pid" || answers; }

# ---- a server on a free port (three ports: PORT, PORT+1, PORT+2) ----
start_serve() { # start_serve [EXTRA ARGS...]: on $PORT, state in $T/state
    (cd "$T" && exec "$WEFT" serve --state "$T/state" --bind "tcp://127.0.0.1:$PORT" "$@") \
        >>"$T/serve.log" 2>&1 &
    serve_pid=$!
}
SERVER=
for try in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 40000))
    : >"$T/serve.log"
    start_serve
    SERVER="tcp://127.0.0.1:$PORT"
    # Up when it answers; a bind failure ends the process instead.
    if wait_for up_or_gone && alive "$serve_pid"; then
        break
    fi
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
    if ! grep -q "Address already in use" "$T/serve.log"; then
        echo "weft serve did not start:"; cat "$T/serve.log"; exit 1
    fi
done
[ -n "$serve_pid" ] || { echo "no free port found"; exit 1; }
echo "# server on $SERVER (pid $serve_pid)"
w workers --server "$SERVER"
check "workers answers with no worker" [ "$rc" = 0 ]
check "  ... and says none is connected" has '^no workers connected'

# ---- submit with no worker connected: accepted, with a warning naming the type ----
cat >"$T/small.yml" <<EOF
name: small
jobs:
  a:
    run: echo a > "$T/small-a.txt"
  b:
    needs: a
    run: echo b > "$T/small-b.txt"
EOF
ws submit small.yml
check "submit with no worker exits 0" [ "$rc" = 0 ]
check "submit prints the request id alone" has '^[0-9]+$'
first=$(cat "$T/out.txt")
check "the warning names type shell" err_has "warning: .*type 'shell'"
ws status "$first"
check "status --server: a waits for a consumer" has '^a +ready .*waiting for a consumer'
ws why -r "$first" b
check "why --server: b waits for a" has "^Job 'b' of run $first \(small\): pending\."
check "  ... naming its unfinished parent" has '^  a \(ready\)$'

# ---- a worker ----
if "$WEFT" worker --help >/dev/null 2>&1; then
    (cd "$T" && exec "$WEFT" worker --connect "$SERVER" --slots 2 --logs "$T/wlogs") \
        >"$T/worker.log" 2>&1 &
    worker_pid=$!
    echo "# worker: weft worker --connect (pid $worker_pid)"
    served() { ws workers && has ' shell +2 '; }
    check "weft workers lists the worker" wait_for served
    check "  ... with the table header" has '^NAME +HOST +PID +TYPES +SLOTS +RUNNING +LAST-HEARD$'
else
    # `weft worker` is not built in yet: serve shell jobs from the server itself instead.
    echo "# no 'weft worker' verb: restarting weft serve with --local-slots 2 instead"
    kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
    start_serve --local-slots 2
    check "serve restarts with local slots" wait_for answers
    served() { ws workers && has ' shell +2 '; }
    check "weft workers lists the local slots" wait_for served
    check "  ... with the table header" has '^NAME +HOST +PID +TYPES +SLOTS +RUNNING +LAST-HEARD$'
fi

ws watch "$first"
check "the first request succeeds once a worker serves it" [ "$rc" = 0 ]
check "  ... and watch says so" has "^request $first \(small\) succeeded in .*: 2 done$"

# ---- submit --wait ----
rm -f "$T/small-a.txt" "$T/small-b.txt"
ws submit --wait small.yml
check "submit --wait exits 0 when the request succeeds" [ "$rc" = 0 ]
check "  ... printing the id first" [ "$(head -1 "$T/out.txt" | grep -cE '^[0-9]+$')" = 1 ]
check "  ... and the outcome" has 'succeeded in .*: 2 done$'
check "  ... with no warning now a worker serves shell" [ ! -s "$T/err.txt" ]
check "the jobs' side effects exist" [ -f "$T/small-a.txt" -a -f "$T/small-b.txt" ]
waited=$(head -1 "$T/out.txt")

ws status "$waited"
check "status --server exits 0" [ "$rc" = 0 ]
check "status --server names the run" has "^run $waited: small \(session file:small.yml\)$"
check "status --server: succeeded" has '^state: +succeeded$'
check "status --server: a done" has '^a +done +1 '
check "status --server: b done" has '^b +done +1 '
ws status
check "status --server with no id shows the newest" has "^run $waited: small"

ws watch "$waited"
check "watch of a finished request exits 0 at once" [ "$rc" = 0 ]
check "  ... with its outcome" has "^request $waited \(small\) succeeded"

# ---- idempotency key ----
ws submit --idempotency-key the-key small.yml
k1=$(cat "$T/out.txt")
ws submit --idempotency-key the-key small.yml
k2=$(cat "$T/out.txt")
check "the same --idempotency-key gives the same id" [ -n "$k1" -a "$k1" = "$k2" ]
ws submit small.yml
check "  ... and no key a new one" [ "$(cat "$T/out.txt")" != "$k1" ]

# ---- a failure, then retry after fixing its cause ----
cat >"$T/flaky.yml" <<EOF
name: flaky
jobs:
  check:
    run: test -f "$T/fixed" || { echo "not fixed yet" >&2; exit 3; }
  after:
    needs: check
    run: echo after > "$T/flaky-after.txt"
EOF
ws submit --wait flaky.yml
check "submit --wait exits 1 when a job fails" [ "$rc" = 1 ]
check "  ... saying the request failed" has 'failed in .*1 failed, 1 cancelled'
check "  ... and how the job failed" has '^failed: check: exit status 3'
check "  ... with its error message" has 'not fixed yet'
flaky=$(head -1 "$T/out.txt")
ws why -r "$flaky" check
check "why --server of the failed job" has "exited with status 3"
check "  ... names what it cancelled" has "Because of it, 1 job was cancelled: 'after'"
ws why -r "$flaky" after
check "why --server of the cancelled job names the cause" has "cancelled because 'check' failed"
touch "$T/fixed"
ws retry "$flaky"
check "retry exits 0" [ "$rc" = 0 ]
check "  ... and says what it did" has "^request $flaky: retrying"
ws watch "$flaky"
check "after the retry the request succeeds" [ "$rc" = 0 ]
check "  ... and the job after it ran" [ -f "$T/flaky-after.txt" ]
ws retry "$flaky"
check "retry with nothing failed is refused: exit 1" [ "$rc" = 1 ]
check "  ... with the server's reason" err_has 'nothing to retry'

# ---- dot --server draws what the state directory holds, byte for byte ----
cat >"$T/shapes.yml" <<EOF
name: shapes
jobs:
  build:
    run: "true"
  test:
    needs: build
    run: exit 4
  report:
    needs: [test, build]
    when: always
    run: "true"
  alert:
    needs: test
    when: failure
    run: "true"
  deploy.it:
    needs: test
    run: "true"
EOF
ws submit --wait shapes.yml
shapes=$(head -1 "$T/out.txt")
check "the shapes request finishes (failed)" [ "$rc" = 1 -a -n "$shapes" ]
ws dot "$shapes"
check "dot --server exits 0" [ "$rc" = 0 ]
cp "$T/out.txt" "$T/dot-server.txt"
w dot --state "$T/state" "$shapes"
check "  ... and prints exactly what dot --state prints" cmp -s "$T/out.txt" "$T/dot-server.txt"
check "  ... a graph with every node and edge" \
    [ "$(grep -c -- ' -> ' "$T/dot-server.txt")" = 5 -a "$(grep -c 'fillcolor' "$T/dot-server.txt")" = 5 ]
check "  ... coloured by state, edges styled by rule" \
    grep -q '^  "test" -> "alert" \[style=dotted\];$' "$T/dot-server.txt"
ws dot 99999
check "dot --server of an unknown request exits 2" [ "$rc" = 2 ]
check "  ... saying so" err_has 'no request 99999'
ws dot shapes.yml
check "dot --server of a file is bad usage" [ "$rc" = 2 ]
w dot --key x "$shapes"
check "dot --key without --server is bad usage" [ "$rc" = 2 ]

# ---- a request of more than one page (10,000 jobs a page), drawn and listed from the server ----
ws pause
{
    echo "name: wide"
    echo "jobs:"
    for i in $(seq 0 10049); do
        echo "  j$i:"
        if [ "$i" -gt 0 ]; then echo "    needs: [j$((i / 2)), j$((i / 3))]"; fi
        echo '    run: "true"'
    done
} >"$T/wide.yml"
ws submit wide.yml
wide=$(cat "$T/out.txt")
check "a 10,050-job request is accepted while paused" [ "$rc" = 0 -a -n "$wide" ]
ws cancel "$wide"
check "  ... and cancelled before anything runs" [ "$rc" = 0 ]
ws resume
ws dot "$wide"
cp "$T/out.txt" "$T/dot-server.txt"
check "dot --server of two pages exits 0" [ "$rc" = 0 ]
w dot --state "$T/state" "$wide"
check "  ... and equals dot --state" cmp -s "$T/out.txt" "$T/dot-server.txt"
check "  ... with every job" [ "$(grep -c 'fillcolor' "$T/dot-server.txt")" = 10050 ]
ws status "$wide"
cp "$T/out.txt" "$T/status-server.txt"
check "status --server of two pages exits 0" [ "$rc" = 0 ]
w status --state "$T/state" "$wide"
check "  ... and equals status --state" cmp -s "$T/out.txt" "$T/status-server.txt"
check "  ... with a row per job" [ "$(grep -c '^j[0-9]* ' "$T/status-server.txt")" = 10050 ]
ws why -r "$wide" j10049
check "why --server reads jobs past the first page" has "^Job 'j10049' of run $wide"

# ---- watch of a request over 100,000 jobs (the most one short STATUS lists): it reads pages ----
ws pause
awk 'BEGIN { print "name: huge"; print "jobs:"
             for (i = 0; i < 150000; i++) { print "  h" i ":"; print "    run: \"true\"" } }' \
    >"$T/huge.yml"
ws submit --timeout 60 huge.yml
huge=$(cat "$T/out.txt")
check "a 150,000-job request is accepted while paused" [ "$rc" = 0 -a -n "$huge" ]
(cd "$T" && exec "$WEFT" watch "$huge" --server "$SERVER" --timeout 60) >"$T/watch-huge.txt" 2>&1 &
watch_pid=$!
bg_pids+=("$watch_pid")
check "watch of it reads its status" wait_for grep -q \
    "^request $huge (huge): running; 150000 jobs: 150000 ready$" "$T/watch-huge.txt"
ws cancel "$huge"
check "  ... and follows it until it is cancelled" wait_for dead "$watch_pid"
wrc=0; wait "$watch_pid" || wrc=$?
check "  ... then exits 1" [ "$wrc" = 1 ]
check "  ... with the outcome" \
    grep -qE "^request $huge \(huge\) cancelled in .*: 150000 cancelled$" "$T/watch-huge.txt"
ws watch "$huge"
check "watch of the finished 150,000-job request exits 1" [ "$rc" = 1 ]
check "  ... with the outcome" has "^request $huge \(huge\) cancelled in .*: 150000 cancelled$"
ws resume

# ---- cancel a request blocked on a job waiting for a file ----
cat >"$T/blocked.yml" <<EOF
name: blocked
jobs:
  wait-file:
    run: while [ ! -f "$T/never" ]; do sleep 0.05; done
  later:
    needs: wait-file
    run: "true"
EOF
ws submit blocked.yml
blocked=$(cat "$T/out.txt")
check "the blocking job starts" wait_for job_is "$blocked" wait-file running
ws why -r "$blocked" wait-file
check "why --server of a running job" has "^Attempt 1 has been running since"
(cd "$T" && exec "$WEFT" watch "$blocked" --server "$SERVER") >"$T/watch-cancel.txt" 2>&1 &
watch_pid=$!
bg_pids+=("$watch_pid")
ws cancel "$blocked"
check "cancel exits 0" [ "$rc" = 0 ]
check "  ... and says so" has "^request $blocked: cancelled$"
check "the watch that was following it ends" wait_for dead "$watch_pid"
wrc=0; wait "$watch_pid" || wrc=$?
check "  ... with exit 1" [ "$wrc" = 1 ]
check "  ... reporting cancelled" \
    grep -qE "^request $blocked \(blocked\) cancelled" "$T/watch-cancel.txt"
ws watch "$blocked"
check "watch of the cancelled request exits 1" [ "$rc" = 1 ]
check "  ... reporting cancelled" has "^request $blocked \(blocked\) cancelled"
ws cancel "$blocked"
check "cancel of a finished request is refused: exit 1" [ "$rc" = 1 ]

# ---- pause and resume ----
ws pause
check "pause exits 0" [ "$rc" = 0 ]
check "  ... and prints the mode" has '^board: paused'
rm -f "$T/small-a.txt"
ws submit small.yml
paused=$(cat "$T/out.txt")
ws status "$paused"
check "a job submitted while paused stays ready" has '^a +ready .*the board is paused'
ws why -r "$paused" a
check "why --server says the board is paused" has 'the board is paused'
check "  ... the live reason, with no 'last saved' caveat" \
    [ "$(grep -c 'last saved' "$T/out.txt")" = 0 ]
check "nothing ran" [ ! -f "$T/small-a.txt" ]
ws resume
check "resume exits 0" [ "$rc" = 0 ]
check "  ... and prints the mode" has '^board: running'
ws watch "$paused"
check "after resume the request runs to success" [ "$rc" = 0 ]

# ---- drain while a job runs ----
cat >"$T/slow.yml" <<EOF
name: slow
jobs:
  slow:
    run: while [ ! -f "$T/drain-go" ]; do sleep 0.05; done
EOF
ws submit slow.yml
slow=$(cat "$T/out.txt")
check "the slow job starts" wait_for job_is "$slow" slow running
(cd "$T" && exec "$WEFT" drain --server "$SERVER") >"$T/drain.txt" 2>&1 &
drain_pid=$!
bg_pids+=("$drain_pid")
check "drain prints the running count" wait_for grep -q '^draining: 1 running$' "$T/drain.txt"
check "  ... and waits while the job runs" alive "$drain_pid"
touch "$T/drain-go"
check "drain ends once the job ended" wait_for dead "$drain_pid"
drc=0; wait "$drain_pid" || drc=$?
check "  ... with exit 0" [ "$drc" = 0 ]
check "  ... printing STOPPED last" [ "$(tail -1 "$T/drain.txt")" = STOPPED ]
ws status "$slow"
check "the drained job finished" has '^slow +done '
ws drain
check "drain of an idle server stops at once" [ "$rc" = 0 ]
check "  ... printing STOPPED" has '^STOPPED$'
ws resume
check "resume after drain" has '^board: running'

# ---- logs --server: fetched from the worker that ran the job (its --logs directory) ----
cat >"$T/talk.yml" <<EOF2
name: talk
jobs:
  talk:
    run: |
      printf 'out line 1\nout line 2\n'
      printf 'err line\nno newline' >&2
  quiet:
    run: "true"
  big:
    run: seq 1 400000
EOF2
ws submit --wait talk.yml
talk=$(head -1 "$T/out.txt")
check "the talking request succeeds" [ "$rc" = 0 -a -n "$talk" ]
printf 'out line 1\nout line 2\n' >"$T/exp-out.txt"
printf 'err line\nno newline' >"$T/exp-err.txt"
ws logs -r "$talk" --stdout talk
check "logs --server --stdout exits 0" [ "$rc" = 0 ]
check "  ... and prints the job's stdout exactly" cmp -s "$T/out.txt" "$T/exp-out.txt"
ws logs -r "$talk" --err talk
check "logs --server --err prints its stderr exactly" cmp -s "$T/out.txt" "$T/exp-err.txt"
ws logs -r "$talk" talk
check "logs --server prints both streams" \
    eval '[ "$rc" = 0 ] && has "^out line 2$" && has "^no newline$"'
check "  ... under headers naming the worker and its files" \
    has "^==> worker [^ ]+ on [^ ]+: $talk/talk\.1\.out <==$"
ws logs -r "$talk" big --stdout
seq 1 400000 >"$T/exp-big.txt"
check "logs --server of 2.7 MB (three chunks) is exact" cmp -s "$T/out.txt" "$T/exp-big.txt"
ws logs -r "$talk" quiet
check "a job that wrote nothing: (nothing written) for both streams" \
    eval '[ "$rc" = 0 ] && [ "$(grep -c "^(nothing written)$" "$T/out.txt")" = 2 ]'
ws logs -r "$talk" --stdout quiet
check "  ... and with one stream, said on stderr" \
    eval '[ "$rc" = 0 ] && [ ! -s "$T/out.txt" ] &&
          err_has "stdout of job .quiet., attempt 1: \(nothing written\)"'
ws logs -r "$talk" -a 2 talk
check "logs --server of an attempt that never was exits 2" [ "$rc" = 2 ]
ws logs -r "$talk" no-such-job
check "logs --server of an unknown job exits 2" [ "$rc" = 2 ]
ws why -r "$talk" talk
check "why --server names the worker and host" \
    has '^Attempt 1 ran on worker [^ ]+ \(host [^ ]+\)\.$'
w why --state "$T/state" -r "$talk" talk
check "why --state names them too" has '^Attempt 1 ran on worker [^ ]+ \(host [^ ]+\)\.$'
w logs --state "$T/state" -r "$talk" --stdout talk
check "logs --state says the log is on the worker, not here" \
    eval '[ "$rc" = 0 ] && err_has "no log here: attempt 1 ran on worker"'
check "the worker kept the files it reports" cmp -s "$T/wlogs/$talk/talk.1.out" "$T/exp-out.txt"

# ---- logs --server -f follows a running job until it ends ----
cat >"$T/follow.yml" <<EOF2
name: follow
jobs:
  follow:
    run: |
      echo first
      while [ ! -f "$T/follow-go" ]; do sleep 0.05; done
      echo second
EOF2
ws submit follow.yml
follow=$(cat "$T/out.txt")
check "the followed job starts" wait_for job_is "$follow" follow running
(cd "$T" && exec "$WEFT" logs -f --stdout --server "$SERVER" -r "$follow" follow) \
    >"$T/follow.txt" 2>"$T/follow-err.txt" &
follow_pid=$!
bg_pids+=("$follow_pid")
check "logs -f prints what the job wrote so far" wait_for grep -q '^first$' "$T/follow.txt"
check "  ... and keeps following" alive "$follow_pid"
touch "$T/follow-go"
check "  ... until the job ends" wait_for dead "$follow_pid"
frc=0; wait "$follow_pid" || frc=$?
check "  ... with exit 0 and everything it wrote" \
    eval '[ "$frc" = 0 ] && [ "$(cat "$T/follow.txt")" = "$(printf "first\nsecond")" ]'

# ---- a worker asked for more than slots + prefetch allow: refused before it starts ----
w worker --connect tcp://127.0.0.1:1 --slots 2 --prefetch 4095
check "worker --slots 2 --prefetch 4095 exits 2" [ "$rc" = 2 ]
check "  ... saying why" err_has 'may not exceed 4096'

# ---- unknown requests and jobs ----
ws watch 99999
check "watch of an unknown request exits 2" [ "$rc" = 2 ]
check "  ... saying so" err_has 'no request 99999'
ws cancel 99999
check "cancel of an unknown request exits 2" [ "$rc" = 2 ]
ws retry 99999
check "retry of an unknown request exits 2" [ "$rc" = 2 ]
ws cancel "$first" no-such-job
check "cancel of an unknown job exits 2" [ "$rc" = 2 ]
ws status 99999
check "status --server of an unknown request exits 2" [ "$rc" = 2 ]
ws why -r "$first" no-such-job
check "why --server of an unknown job exits 2" [ "$rc" = 2 ]
check "  ... saying so" err_has "has no job 'no-such-job'"

# ---- bad usage ----
printf 'jobs:\n  a:\n    run: x\n    needz: b\n' >"$T/bad.yml"
ws submit bad.yml
check "submit of an invalid file exits 2" [ "$rc" = 2 ]
check "  ... with validate's diagnostics" err_has '^bad.yml:4:5: error: '
w validate bad.yml
cp "$T/err.txt" "$T/validate-err.txt"
ws submit bad.yml
check "  ... exactly as weft validate prints them" cmp -s "$T/err.txt" "$T/validate-err.txt"
ws watch not-an-id
check "watch of a malformed id exits 2" [ "$rc" = 2 ]
w workers --server http://example.com
check "a malformed --server exits 2" [ "$rc" = 2 ]
check "  ... explaining the form" err_has 'tcp://HOST:PORT'
ws submit --idempotency-key 'bad key' small.yml
check "a malformed --idempotency-key exits 2" [ "$rc" = 2 ]
ws workers --timeout 0
check "a bad --timeout exits 2" [ "$rc" = 2 ]
for verb in submit watch cancel retry workers pause resume drain; do
    w "$verb" --help
    check "$verb --help exits 0 and documents --server" eval '[ "$rc" = 0 ] && has "PORT\+1"'
done
w status --help
check "status --help documents --server" has '--server'
w why --help
check "why --help documents --server" has '--server'

# ---- the environment names the server ----
rc=0
(cd "$T" && WEFT_SERVER=$SERVER "$WEFT" workers) >"$T/out.txt" 2>"$T/err.txt" || rc=$?
check "WEFT_SERVER names the server" eval '[ "$rc" = 0 ] && has " shell +2 "'

# ---- logs --server once the worker that ran the job is gone ----
if [ -n "$worker_pid" ]; then
kill -KILL "$worker_pid"; wait "$worker_pid" 2>/dev/null || true
worker_pid=
gone() { ws workers && has '^no workers connected'; }
check "the killed worker is lost" wait_for gone
ws logs -r "$talk" talk
check "logs --server of its job exits 1" [ "$rc" = 1 ]
check "  ... saying the worker is not connected" \
    err_has 'worker [^ ]+ \(pid [0-9]+\) on host [^ ]+ is not connected'
check "  ... and where the files are" \
    err_has "on [^ ]+, in that worker's --logs directory as $talk/talk\.1\.out and \.err"
check "  ... having printed nothing" [ ! -s "$T/out.txt" ]
ws why -r "$talk" talk
check "why --server still names the worker" has '^Attempt 1 ran on worker [^ ]+ \(host [^ ]+\)\.$'
fi

# ---- no server: a clear error, quickly ----
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
serve_pid=
t0=$(date +%s)
w workers --server "$SERVER" --timeout 1
t1=$(date +%s)
check "no server: workers exits 1" [ "$rc" = 1 ]
check "  ... saying nothing answered" \
    err_has "no answer from $SERVER within 1 s: is \`weft serve\` running\?"
check "  ... within a few seconds" [ $((t1 - t0)) -le 5 ]
w submit --server "$SERVER" --timeout 1 small.yml
check "no server: submit exits 1" [ "$rc" = 1 ]
check "  ... printing no id" [ ! -s "$T/out.txt" ]
w status --server "$SERVER" --timeout 1
check "no server: status --server exits 1" [ "$rc" = 1 ]

echo "# $passes passed, $fails failed"
[ "$fails" = 0 ]
