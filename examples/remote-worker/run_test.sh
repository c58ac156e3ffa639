#!/usr/bin/env bash
# run_test.sh WEFT CHECKSUM_WORKER CHECKSUMS_YML: a server with local shell slots, the C worker
# serving `checksum`, one submission mixing both types; it must succeed.
set -uo pipefail
WEFT=$1 WORKER=$2 YML=$3
T=$(mktemp -d /tmp/weft-remote-worker.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
for try in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 40000))
  "$WEFT" serve --state "$T/state" --bind "tcp://127.0.0.1:$PORT" --local-slots 1 >"$T/serve.log" 2>&1 &
  pids+=($!)
  for i in $(seq 1 100); do grep -q "events" "$T/serve.log" && break; sleep 0.05; done
  grep -q "events" "$T/serve.log" && break
done
cp "$YML" "$T/"
cd "$T"
"$WORKER" "tcp://127.0.0.1:$PORT" 2 >"$T/worker.log" 2>&1 &
pids+=($!)
out=$("$WEFT" submit --server "tcp://127.0.0.1:$PORT" --wait "$T/checksums.yml" 2>&1)
rc=$?
echo "$out"
cat "$T/worker.log"
fails=0
[ "$rc" = 0 ] || { echo "FAIL: submit --wait exited $rc"; fails=1; }
grep -q "greeting = " "$T/worker.log" || { echo "FAIL: the C worker did not run 'greeting'"; fails=1; }
grep -q "poem = " "$T/worker.log" || { echo "FAIL: the C worker did not run 'poem'"; fails=1; }
echo "$((fails == 0 ? 3 : 0)) passed, $fails failed"
exit $fails
