#!/usr/bin/env bash
# python_test.sh WEFT EXAMPLES_PYTHON_DIR -- the Python client of examples/python/, written from
# docs/protocol.md alone, against a real `weft serve` (with two local shell slots) on a free port:
# the example fan-out/fan-in pipeline succeeds and leaves its files, a failing workflow exits 1 and
# says why, a graph the server refuses exits 1 with the server's message.
# Runs the SYSTEM python (/usr/bin/python3), where Debian's python3-zmq and python3-msgpack live.
# Nothing here sleeps for timing: the client waits on replies and events itself, each call is
# bounded by `timeout`, and the server's start-up is polled with a generous deadline.  Every
# process the script starts is killed by the EXIT trap.
set -euo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
EX=$(cd "$2" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/weft-python-test.XXXXXX)
serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then
        kill "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
passes=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; show; fi; }
has() { grep -qE -- "$1" "$T/out.txt"; }
err_has() { grep -qE -- "$1" "$T/err.txt"; }
show() { echo "--- stdout:"; cat "$T/out.txt"; echo "--- stderr:"; cat "$T/err.txt"; }
# py ARGS...: the client against the server under test, run in $T/work; sets rc
py() {
    rc=0
    (cd "$T/work" && timeout 120 "$PY" "$EX/weft_client.py" --server "$SERVER" "$@") \
        >"$T/out.txt" 2>"$T/err.txt" || rc=$?
}
alive() { kill -0 "$1" 2>/dev/null; }

if ! "$PY" -c 'import zmq, msgpack' 2>"$T/err.txt"; then
    echo "FAIL - $PY cannot import zmq and msgpack (apt-get install python3-zmq python3-msgpack)"
    cat "$T/err.txt"
    echo "0 passed, 1 failed"
    exit 1
fi

# ---- a server on a free port (PORT, PORT+1, PORT+2); its cwd is not where jobs should write ----
mkdir -p "$T/server-cwd" "$T/work"
SERVER=
for try in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 40000))
    SERVER="tcp://127.0.0.1:$PORT"
    (cd "$T/server-cwd" && exec "$WEFT" serve --state "$T/state" \
        --bind "$SERVER" --local-slots 2) >"$T/serve.log" 2>&1 &
    serve_pid=$!
    # Ready once it prints its endpoints (docs/cli.md), which it does only after binding them
    # all; a bind failure ends the process instead. Polled, up to 60 s. (A PING alone could be
    # answered by whatever server already holds the port.)
    up=0
    for i in $(seq 1 600); do
        if grep -q '^  events tcp://' "$T/serve.log"; then up=1; break; fi
        alive "$serve_pid" || break
        sleep 0.1
    done
    [ "$up" = 1 ] && break
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
    if ! grep -q "Address already in use" "$T/serve.log"; then
        echo "weft serve did not start:"; cat "$T/serve.log"; exit 1
    fi
done
[ -n "$serve_pid" ] || { echo "no free port found"; exit 1; }
echo "# server on $SERVER (pid $serve_pid)"

py ping
check "ping: the server answers PONG with its version" has '^weft [0-9]+\.[0-9]+\.[0-9]+, client protocol 1\.\.1$'
py workers
check "workers: the local shell slots are listed" has '0/2 running, types shell'

# ---- the example pipeline: fan-out / fan-in, run in the client's directory (--cwd .) ----
py submit "$EX/pipeline.json" --cwd .
check "pipeline: exit 0" [ "$rc" = 0 ]
check "  ... prints the request id" has '^submitted request [0-9]+ \(5 jobs\)$'
# A subscription is never confirmed (docs/protocol.md): the first job's hand-out can be
# published before the client's SUB reaches the server, however early it subscribes. The fan-in
# job starts only after three others have run, long after that.
check "  ... prints job events as they happen" has ' report +running +leased to a consumer \(attempt 1\)$'
check "  ... the fan-in job's event" has ' report +done +succeeded'
check "  ... ends with the request's own event" has ' request [0-9]+ succeeded$'
check "  ... prints the outcome" has '^request [0-9]+ succeeded$'
check "  ... every job is done" has '^request [0-9]+ \(fan-out-fan-in, session default\): succeeded -- 5 jobs: 5 done$'
for f in input lines words upper report; do
    check "  ... wrote out/$f.txt in the client's directory" [ -s "$T/work/out/$f.txt" ]
done
check "  ... the fan-in saw every branch" grep -qx 'lines 3 words 6' "$T/work/out/report.txt"
check "  ... the upper-case branch" grep -qx 'ALPHA BETA' "$T/work/out/report.txt"
check "  ... the job's env reached the shell" grep -qx 'by weft_client.py' "$T/work/out/report.txt"
check "  ... nothing was written in the server's directory" [ ! -e "$T/server-cwd/out" ]
req=$(sed -nE 's/^submitted request ([0-9]+) .*/\1/p' "$T/out.txt")
py status "$req"
check "status of the finished pipeline" has '^  report +done +succeeded$'

# ---- a failing workflow: exit 1, the failure and the cascade are reported ----
cat >"$T/work/failing.json" <<'EOF'
{"name": "failing", "jobs": [
  {"id": "first", "run": "touch first.txt"},
  {"id": "boom", "needs": ["first"], "run": "echo about to fail >&2; exit 3"},
  {"id": "after", "needs": ["boom"], "run": "touch after.txt"},
  {"id": "cleanup", "needs": ["boom"], "when": "always", "run": "touch cleanup.txt"}]}
EOF
py submit failing.json --cwd .
check "failing workflow: exit 1" [ "$rc" = 1 ]
check "  ... the failing job's event" has ' boom +failed +failed with an exit status'
check "  ... its exit status and stderr in the outcome" has '^  boom +failed .*exit status 3.*about to fail'
check "  ... its dependent is cancelled because of it" has '^  after +cancelled +cancelled because a parent failed \(because of boom\)$'
check "  ... prints the outcome" has '^request [0-9]+ failed$'
check "  ... the parent ran" [ -e "$T/work/first.txt" ]
check "  ... the 'always' job ran" [ -e "$T/work/cleanup.txt" ]
check "  ... the cancelled job did not" [ ! -e "$T/work/after.txt" ]

# ---- a graph the server refuses: ERROR, nothing stored ----
cat >"$T/work/unknown-need.json" <<'EOF'
{"name": "bad", "jobs": [{"id": "a", "run": "true", "needs": ["nope"]}]}
EOF
py submit unknown-need.json
check "bad graph: exit 1" [ "$rc" = 1 ]
check "  ... the server's ERROR names the job" err_has 'WEFT_EINVAL: .*"a".*"nope"'
check "  ... nothing was submitted" sh -c "! grep -q '^submitted' '$T/out.txt'"

# ---- a file the client refuses before sending anything ----
echo '{"name": "x", "jobs": [{"id": "bad id", "run": "true"}]}' >"$T/work/bad-id.json"
py submit bad-id.json
check "bad job id: exit 1 with the client's own message" [ "$rc" = 1 ]
check "  ... naming the field" err_has "id is not a name"

# ---- an unknown request ----
py wait 999999
check "wait on an unknown request: exit 1, WEFT_ENOTFOUND" [ "$rc" = 1 ]
check "  ... says so" err_has 'WEFT_ENOTFOUND'

# ---- the server stops cleanly, with no sanitizer report (in a -DWEFT_SANITIZE=ON build) ----
kill "$serve_pid"
src=0
wait "$serve_pid" || src=$?
serve_pid=
check "server: exit 0 on SIGTERM" [ "$src" = 0 ]
check "  ... no sanitizer report in its log" \
    sh -c "! grep -qE 'Sanitizer|runtime error' '$T/serve.log' || { cat '$T/serve.log'; false; }"

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
