#!/usr/bin/env bash
# netns_test.sh WEFT -- server mode across a real network link: two network namespaces joined
# by a veth pair (10.250.N.1/30 and 10.250.N.2/30, addresses that exist only inside the two
# namespaces), `weft serve --keys` bound to the veth address in one, a `weft worker` and the
# client verbs in the other, all with CURVE keys from `weft keygen`.  Checks: a non-loopback
# bind is refused without --keys; a small workflow runs across the link on the remote worker
# (its jobs see the worker's namespace, not the server's); a client with no key, or with a
# worker's key, gets no answer; the server and worker stop cleanly.
#
# Needs root, iproute2 and network namespaces, and a weft with CURVE options; without them it
# prints "SKIP: <why>" and exits 77 (ctest: SKIP_RETURN_CODE 77).  Waits poll with generous
# deadlines.  The EXIT trap ends every process it started (by pid) and deletes both namespaces
# (which deletes the veth pair).  Traffic never leaves the two namespaces.
set -uo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "not root (network namespaces need CAP_NET_ADMIN)"
command -v ip >/dev/null 2>&1 || skip "no 'ip' command (iproute2)"
command -v timeout >/dev/null 2>&1 || skip "no 'timeout' command (coreutils)"

T=$(mktemp -d /tmp/weft-netns-test.XXXXXX)
N=$(($$ % 250 + 1)) # 10.250.N.0/30: distinct for concurrent runs
NS_S=weft-srv-$$
NS_C=weft-cli-$$
VETH_S=wfs$$
VETH_C=wfc$$
ADDR_S=10.250.$N.1
ADDR_C=10.250.$N.2
PORT=7400
SERVER=tcp://$ADDR_S:$PORT
made_ns=()
declare -A started
spawned() { started[$1]=1; }
reap() { wait "$1" 2>/dev/null; local st=$?; unset "started[$1]"; return $st; }
cleanup() {
    local p i any
    for p in "${!started[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for i in $(seq 1 100); do
        any=
        for p in "${!started[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
        [ -z "$any" ] && break
        sleep 0.1
    done
    for p in "${!started[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for p in "${!started[@]}"; do reap "$p"; done
    for p in "${made_ns[@]}"; do ip netns del "$p" 2>/dev/null; done
    ip link del "$VETH_S" 2>/dev/null # only if it never reached its namespace
    rm -rf "$T"
}
trap cleanup EXIT

# ---- what this weft can do ----
"$WEFT" serve --help 2>/dev/null | grep -q -- '--keys' ||
    skip "weft serve has no CURVE option (--keys): it cannot bind beyond loopback"
"$WEFT" worker --help 2>/dev/null | grep -q -- '--server-key' ||
    skip "weft worker has no --server-key"
"$WEFT" submit --help 2>/dev/null | grep -q -- '--server-key' ||
    skip "weft submit has no --server-key"

# ---- the link ----
ip netns add "$NS_S" 2>"$T/ip.err" || skip "cannot create a network namespace: $(cat "$T/ip.err")"
made_ns+=("$NS_S")
ip netns add "$NS_C" 2>"$T/ip.err" || skip "cannot create a network namespace: $(cat "$T/ip.err")"
made_ns+=("$NS_C")
ip link add "$VETH_S" type veth peer name "$VETH_C" 2>"$T/ip.err" ||
    skip "cannot create a veth pair: $(cat "$T/ip.err")"
if ! { ip link set "$VETH_S" netns "$NS_S" && ip link set "$VETH_C" netns "$NS_C" &&
    ip -n "$NS_S" addr add "$ADDR_S/30" dev "$VETH_S" &&
    ip -n "$NS_C" addr add "$ADDR_C/30" dev "$VETH_C" &&
    ip -n "$NS_S" link set lo up && ip -n "$NS_C" link set lo up &&
    ip -n "$NS_S" link set "$VETH_S" up && ip -n "$NS_C" link set "$VETH_C" up; } 2>"$T/ip.err"
then
    skip "cannot set up the veth link: $(cat "$T/ip.err")"
fi

passes=0
fails=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; show; fi; }
show() {
    echo "--- stdout:"; cat "$T/out.txt" 2>/dev/null
    echo "--- stderr:"; cat "$T/err.txt" 2>/dev/null
    echo "--- serve.log (tail):"; tail -5 "$T/serve.log" 2>/dev/null
}
wait_for() { # wait_for SECONDS CMD...
    local end=$((SECONDS + $1)); shift
    while :; do
        "$@" && return 0
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.1
    done
}
alive() { kill -0 "$1" 2>/dev/null; }
dead() { ! kill -0 "$1" 2>/dev/null; }
has() { grep -qE -- "$1" "$T/out.txt"; }
# in NS ARGS...: weft in namespace NS, in $T; stdout/stderr to files; sets rc
in_ns() {
    local ns=$1; shift
    rc=0
    (cd "$T" && ip netns exec "$ns" "$WEFT" "$@") >"$T/out.txt" 2>"$T/err.txt" || rc=$?
}
# client KEY VERB ARGS...: a client verb from the client namespace with key file KEY ("" none)
client() {
    local key=$1 verb=$2; shift 2
    if [ -n "$key" ]; then
        in_ns "$NS_C" "$verb" --server "$SERVER" --server-key "$T/keys/server.pub" \
            --key "$T/$key" "$@"
    else
        in_ns "$NS_C" "$verb" --server "$SERVER" "$@"
    fi
}
lists_worker() { client alice workers --timeout 2 && [ "$rc" = 0 ] && has '^remote-1 '; }

echo "# link: $NS_S ($ADDR_S) <-> $NS_C ($ADDR_C)"
# A refused connection to a closed port proves the packet crossed to the server's namespace.
reaches() {
    local out
    out=$(ip netns exec "$NS_C" timeout 10 bash -c "exec 3<>/dev/tcp/$ADDR_S/9" 2>&1)
    [[ $out == *"Connection refused"* ]]
}
check "the namespaces reach each other over the veth pair" wait_for 30 reaches

# ---- keys ----
mkdir -p "$T/keys/workers" "$T/keys/clients"
"$WEFT" keygen "$T/keys/server" >/dev/null &&
    "$WEFT" keygen "$T/remote-1" >/dev/null && cp "$T/remote-1.pub" "$T/keys/workers/" &&
    "$WEFT" keygen "$T/alice" >/dev/null && cp "$T/alice.pub" "$T/keys/clients/"
check "weft keygen makes the server, worker and client key pairs" \
    [ -f "$T/keys/server.pub" -a -f "$T/keys/workers/remote-1.pub" -a -f "$T/keys/clients/alice.pub" ]

# ---- without keys, a bind beyond loopback is refused ----
in_ns "$NS_S" serve --state "$T/state0" --bind "$SERVER"
check "serve without --keys refuses $ADDR_S: exit 2" [ "$rc" = 2 ]
check "  ... saying CURVE is needed" grep -q 'CURVE' "$T/err.txt"

# ---- the server, in its namespace ----
(cd "$T" && exec ip netns exec "$NS_S" "$WEFT" serve --state "$T/state" --bind "$SERVER" \
    --keys "$T/keys" --heartbeat 500 -v) >"$T/serve.log" 2>&1 &
serve_pid=$!
spawned "$serve_pid"
bound() { dead "$serve_pid" || grep -q '^  events ' "$T/serve.log"; }
wait_for 60 bound
check "serve --keys binds $SERVER" alive "$serve_pid"
check "  ... and answers a client with an admitted key across the link" \
    wait_for 60 eval 'client alice workers --timeout 2 && [ "$rc" = 0 ]'

# ---- a worker, in the other namespace ----
(cd "$T" && exec ip netns exec "$NS_C" "$WEFT" worker --connect "$SERVER" \
    --server-key "$T/keys/server.pub" --key "$T/remote-1" --name remote-1 --slots 2 \
    --logs "$T/wlogs") >"$T/worker.log" 2>&1 &
worker_pid=$!
spawned "$worker_pid"
check "the remote worker joins the board" wait_for 60 lists_worker

# ---- a small workflow across the link ----
# Each job records the network namespace it runs in: the worker's, not the server's.
cat >"$T/across.yml" <<EOF
name: across
jobs:
  fetch:
    run: readlink /proc/self/ns/net > "$T/fetch.ns"
  left:
    needs: fetch
    run: readlink /proc/self/ns/net > "$T/left.ns"
  right:
    needs: fetch
    run: readlink /proc/self/ns/net > "$T/right.ns"
  join:
    needs: [left, right]
    run: cat "$T/left.ns" "$T/right.ns" > "$T/join.txt"
EOF
client alice submit --wait across.yml --timeout 30
check "submit --wait across the link exits 0" [ "$rc" = 0 ]
check "  ... and reports success" has 'succeeded in .*: 4 done$'
ns_c=$(ip netns exec "$NS_C" readlink /proc/self/ns/net)
ns_s=$(ip netns exec "$NS_S" readlink /proc/self/ns/net)
check "the jobs ran in the worker's namespace" \
    [ "$(cat "$T/fetch.ns" "$T/left.ns" "$T/right.ns" 2>/dev/null | sort -u)" = "$ns_c" ]
check "  ... not in the server's" [ "$ns_c" != "$ns_s" ]
check "the last job saw its parents' output" [ "$(wc -l <"$T/join.txt" 2>/dev/null)" = 2 ]
req=$(head -1 "$T/out.txt")
client alice status "$req" --timeout 10
check "status across the link: succeeded" has '^state: +succeeded$'

# ---- keys are checked across the link ----
client "" workers --timeout 2
check "a client with no key gets no answer: exit 1" [ "$rc" = 1 ]
client remote-1 workers --timeout 2
check "a client using a worker's key gets no answer: exit 1" [ "$rc" = 1 ]
check "  ... and the server logs the refusal" \
    wait_for 30 grep -q 'WEFT-AUTH-DENIED' "$T/serve.log"

# ---- clean stop ----
kill -TERM "$worker_pid"
wait_for 60 dead "$worker_pid"
wrc=0; reap "$worker_pid" || wrc=$?
check "the worker stops on SIGTERM with exit 0" [ "$wrc" = 0 ]
kill -TERM "$serve_pid"
wait_for 60 dead "$serve_pid"
src=0; reap "$serve_pid" || src=$?
check "the server stops on SIGTERM with exit 0" [ "$src" = 0 ]

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
