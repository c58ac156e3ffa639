#!/usr/bin/env bash
# curve_test.sh WEFT -- CURVE end to end: `weft serve --keys` on a free loopback port, workers
# and clients with `weft keygen` key pairs.  A worker key gets on the board, a client key gets
# on the client endpoint and the events, and neither gets on the other's; an unknown key is
# refused at once until its NAME.pub is added and the server re-reads its keys (SIGHUP), for
# clients and workers alike; a server without --keys refuses a non-loopback bind.
# Waits poll with generous deadlines; nothing here depends on timing.  Every process the script
# starts is killed by the EXIT trap.
set -euo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the checks run in $T
T=$(mktemp -d /tmp/weft-curve-test.XXXXXX)
serve_pid=
pids=()
cleanup() {
    local p
    for p in "${pids[@]}" $serve_pid; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}" $serve_pid; do
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
has() { grep -qE -- "$1" "$T/out.txt"; }
err_has() { grep -qE -- "$1" "$T/err.txt"; }
lacks() { ! grep -qE -- "$1" "$T/out.txt"; }
# w ARGS...: run weft in $T, stdout/stderr to files; sets rc and ms (how long it took)
w() {
    rc=0
    local t0 t1
    t0=$(date +%s%N)
    (cd "$T" && "$WEFT" "$@") >"$T/out.txt" 2>"$T/err.txt" || rc=$?
    t1=$(date +%s%N)
    ms=$(((t1 - t0) / 1000000))
    cat "$T/err.txt" >>"$T/all-err.txt"
}
# as KEY VERB ARGS...: a client verb against the server under test with the key file KEY
as() {
    local key=$1 verb=$2
    shift 2
    w "$verb" --server "$SERVER" --server-key keys/server.pub --key "$key" "$@"
}
wait_for() { # poll up to 60 s
    local i
    for i in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.1; done
    return 1
}
show() {
    echo "--- stdout:"; cat "$T/out.txt"; echo "--- stderr:"; cat "$T/err.txt"
    echo "--- serve.log (tail):"; tail -5 "$T/serve.log"
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
lists() { as client workers --timeout 2 && [ "$rc" = 0 ] && has "^$1 "; }
not_listed() { as client workers --timeout 2 && [ "$rc" = 0 ] && lacks "^$1 "; }
# denied DOMAIN KEY: the server logged refusing KEY (Z85 holds regex characters: -F)
denied() { grep -qF "WEFT-AUTH-DENIED: refused domain=$1 mechanism=CURVE key=$2 " "$T/serve.log"; }
ran_nothing() { [ ! -d "$T/logs-$1" ] || [ -z "$(ls -A "$T/logs-$1")" ]; }
pubkey() { sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$T/$1.pub"; }
# worker NAME KEY [ARGS...]: a `weft worker` with CURVE, its output in NAME.log
worker() {
    local name=$1 key=$2; shift 2
    (cd "$T" && exec "$WEFT" worker --connect "$SERVER" --server-key keys/server.pub \
        --key "$key" --name "$name" --slots 2 --logs "logs-$name" "$@") >"$T/$name.log" 2>&1 &
    pids+=($!)
}

# ---- keys ----
mkdir -p "$T/keys/workers" "$T/keys/clients"
for k in keys/server worker client stranger late; do
    w keygen "$k"
    check "keygen $k" [ "$rc" = 0 ]
done
cp "$T/worker.pub" "$T/keys/workers/"
cp "$T/client.pub" "$T/keys/clients/"
w serve --help
if ! grep -q -- '--keys' "$T/out.txt"; then
    echo "weft serve does not take --keys: the server side of CURVE is missing"; exit 1
fi

# ---- a CURVE server on a free port (PORT, PORT+1, PORT+2) ----
up_or_gone() { dead "$serve_pid" || { as client workers --timeout 1 && [ "$rc" = 0 ]; }; }
SERVER=
for try in $(seq 1 20); do
    PORT=$((20000 + RANDOM % 40000))
    SERVER="tcp://127.0.0.1:$PORT"
    : >"$T/serve.log"
    (cd "$T" && exec "$WEFT" serve --state "$T/state" --keys keys --bind "$SERVER") \
        >>"$T/serve.log" 2>&1 &
    serve_pid=$!
    if wait_for up_or_gone && alive "$serve_pid"; then
        break
    fi
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=
    if ! grep -q "Address already in use" "$T/serve.log"; then
        echo "weft serve --keys did not start:"; cat "$T/serve.log"; exit 1
    fi
done
[ -n "$serve_pid" ] || { echo "no free port found"; exit 1; }
echo "# CURVE server on $SERVER (pid $serve_pid)"

# ---- the admitted worker and client ----
worker good worker
check "a worker with an admitted key gets on the board" wait_for lists good
cat >"$T/two.yml" <<EOF
name: two
jobs:
  a:
    run: sleep 1; echo a
  b:
    needs: [a]
    run: echo b
EOF
as client submit --wait two.yml
check "a client with an admitted key submits and the run succeeds" [ "$rc" = 0 ]
check "  ... its events come over the CURVE SUB" has ' b: (running|done)'
check "  ... and the outcome" has '^request [0-9]+ \(two\) succeeded'
req=$(head -1 "$T/out.txt")
as client status "$req"
check "status --server with the keys" [ "$rc" = 0 ]
check "  ... shows the run" has "^run $req: two"
as client why -r "$req" b
check "why --server with the keys" [ "$rc" = 0 ]
WEFT_SERVER_KEY=keys/server.pub WEFT_KEY=client w workers --server "$SERVER"
check "\$WEFT_SERVER_KEY and \$WEFT_KEY stand in for the options" [ "$rc" = 0 ]
w workers --server "$SERVER" --server-key "$(pubkey keys/server)" --key client
check "--server-key takes the 40-character key too" [ "$rc" = 0 ]

# ---- refused clients fail at once, saying why ----
as stranger submit --timeout 3 two.yml
check "an unknown client key is refused" [ "$rc" != 0 ]
check "  ... within --timeout" [ "$ms" -lt 3000 ]
check "  ... saying the key was refused" err_has 'refused this client.s key'
check "  ... and the server logs it" wait_for denied clients "$(pubkey stranger)"
as worker workers --timeout 3
check "a worker key is refused on the client endpoint" [ "$rc" = 1 ]
check "  ... saying so" err_has 'refused this client.s key'
w workers --server "$SERVER" --timeout 3
check "a client without keys is refused" [ "$rc" = 1 ]
check "  ... told that the server requires CURVE" err_has 'requires CURVE'
w workers --server "$SERVER" --server-key client.pub --key client --timeout 1
check "a wrong server key gets no answer" [ "$rc" = 1 ]
check "  ... and is named" err_has 'server-key'
w workers --server "$SERVER" --server-key keys/server.pub
check "--server-key without --key is a usage error" [ "$rc" = 2 ]
check "  ... naming both" err_has 'both'
cp "$T/client" "$T/loose"
chmod 644 "$T/loose"
as loose workers
check "a key file others can read is refused" [ "$rc" = 2 ]
check "  ... saying chmod 600" err_has 'chmod 600'
as client.pub workers
check "a NAME.pub given as --key is refused" [ "$rc" = 2 ]
check "  ... it holds no secret key" err_has 'no secret key'

# ---- a worker with a client's key never gets on the board ----
worker imposter client
check "a client key is refused on the board" wait_for denied workers "$(pubkey client)"
check "  ... the worker says it gets no answer" \
    wait_for grep -q "imposter: no word from the board" "$T/imposter.log"
check "  ... and the server does not list it" not_listed imposter
as client submit --wait two.yml
check "  ... nor give it jobs (the run succeeds on the good worker)" [ "$rc" = 0 ]
check "  ... it ran nothing" ran_nothing imposter
w worker --connect "$SERVER" --server-key keys/server.pub --key loose
check "a worker refuses a key file others can read" [ "$rc" = 1 ]
check "  ... saying chmod 600" err_has 'chmod 600'
w worker --connect "$SERVER" --key worker
check "a worker with --key but no --server-key is a usage error" [ "$rc" = 2 ]

# ---- keys added and re-read with SIGHUP ----
worker late late
check "an unknown worker key is refused" wait_for denied workers "$(pubkey late)"
cp "$T/stranger.pub" "$T/keys/clients/"
cp "$T/late.pub" "$T/keys/workers/"
kill -HUP "$serve_pid"
stranger_in() { as stranger workers --timeout 2 && [ "$rc" = 0 ]; }
check "after SIGHUP the stranger's client key gets in" wait_for stranger_in
check "  ... and the refused worker gets on the board" wait_for lists late
check "the server is still up" alive "$serve_pid"

# ---- without --keys: loopback only ----
# (bounded: a serve that did bind would otherwise run until the trap)
w_serve_open() {
    rc=0
    (cd "$T" && timeout 30 "$WEFT" serve --state "$T/open" --bind "tcp://0.0.0.0:$PORT") \
        >"$T/out.txt" 2>"$T/err.txt" || rc=$?
    cat "$T/err.txt" >>"$T/all-err.txt"
}
w_serve_open
check "serve without --keys refuses a non-loopback bind" [ "$rc" = 2 ]
check "  ... saying CURVE is needed" err_has 'CURVE|--keys'

# ---- everything stops cleanly (in a sanitizer build: with no report) ----
for p in "${pids[@]}" $serve_pid; do kill "$p" 2>/dev/null || true; done
stopped=0
for p in "${pids[@]}" $serve_pid; do wait "$p" 2>/dev/null && stopped=$((stopped + 1)) || true; done
check "the server and the workers exit 0 on SIGTERM" [ "$stopped" = $((${#pids[@]} + 1)) ]
pids=()
serve_pid=
clean_logs() { ! cat "$T"/*.log "$T/all-err.txt" | grep -E 'Sanitizer|runtime error'; }
check "no sanitizer report from any weft process" clean_logs

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
