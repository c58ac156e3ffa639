#!/usr/bin/env bash
# run_test.sh WEFT EXAMPLES_DIR -- `weft run` end to end with real processes and signals:
# the example workflows, exit statuses, interrupt and resume, rescue after a failure, a changed
# file, timeouts (no process left behind), retries, progress, params.
# Waits poll for files with a generous deadline; nothing here depends on timing.
set -uo pipefail
WEFT=$1
EXAMPLES=$2
T=$(mktemp -d /tmp/weft-run-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
passes=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# wait_for CMD...: poll up to 60 s
wait_for() { local i; for i in $(seq 1 600); do "$@" && return 0; sleep 0.1; done; return 1; }
run() { "$WEFT" run -j 2 "$@" >"$T/out.txt" 2>"$T/err.txt"; echo $?; }

# ---- the examples ----
cp "$EXAMPLES"/*.yml "$T/"
rc=$(run "$T/data-pipeline.yml")
check "data-pipeline succeeds" [ "$rc" = 0 ]
check "data-pipeline report" grep -q "rows 4000" "$T/out/data-pipeline/report.txt"
rc=$(run "$T/thumbnails.yml" -p size=32 --durability process)
check "thumbnails succeeds (--durability process)" [ "$rc" = 0 ]
check "thumbnails -p size" grep -q "a 32x32" "$T/out/thumbnails/index.txt"
rc=$(run "$T/build-test-deploy.yml")
check "build-test-deploy succeeds" [ "$rc" = 0 ]
check "deployed" [ -f "$T/out/build-test-deploy/deploy.txt" ]
check "cleanup ran" [ -f "$T/out/build-test-deploy/cleanup.txt" ]
check "no failure notification" [ ! -f "$T/out/build-test-deploy/notification.txt" ]
rm -rf "$T/out/build-test-deploy"
rc=$(run "$T/build-test-deploy.yml" --restart -p fail_tests=1)
check "build-test-deploy failing exits 1" [ "$rc" = 1 ]
check "failure notification" [ -f "$T/out/build-test-deploy/notification.txt" ]
check "cleanup ran after failure" [ -f "$T/out/build-test-deploy/cleanup.txt" ]
check "summary names the failed job and its stderr" grep -q "expected 200, got 500" "$T/out.txt"
check "summary gives the exit status" grep -q "integration-tests: exit status 3" "$T/out.txt"

# ---- exit statuses and refusals ----
printf 'jobs:\n  a:\n    run: true\n    timout: 5s\n' > "$T/bad.yml"
rc=$(run "$T/bad.yml")
check "invalid file exits 2" [ "$rc" = 2 ]
check "error is FILE:LINE:COL" grep -q "bad.yml:4:5: error: " "$T/err.txt"
rc=$(run "$T/data-pipeline.yml" --durability sometimes)
check "bad --durability exits 2" [ "$rc" = 2 ]
check "bad --durability says what it wants" grep -q "wants 'full' or 'process'" "$T/err.txt"
printf 'jobs:\n  a:\n    type: gpu\n    with: {x: 1}\n' > "$T/gpu.yml"
rc=$(run "$T/gpu.yml")
check "non-shell type refused with exit 2" [ "$rc" = 2 ]
check "refusal names job and type" grep -q "job 'a' has type 'gpu'" "$T/err.txt"
rc=$("$WEFT" run -j 0 "$T/gpu.yml" >/dev/null 2>&1; echo $?)
check "bad -j exits 2" [ "$rc" = 2 ]
printf 'params:\n  msg: hi\njobs:\n  a:\n    run: echo ${msg} > p.txt\n' > "$T/params.yml"
rc=$(run "$T/params.yml" -p msg=hello)
check "-p overrides a param" grep -qx hello "$T/p.txt"
rc=$(run "$T/params.yml" -p nope=1)
check "-p of an unknown param exits 2" [ "$rc" = 2 ]

# ---- interrupt and resume: no done job runs twice ----
mkdir -p "$T/int"
{
  echo "jobs:"
  for i in 1 2 3 4 5 6; do
    echo "  s$i:"
    [ "$i" -gt 1 ] && echo "    needs: s$((i - 1))"
    echo "    run: sleep 0.4 && echo s$i >> done.log"
  done
} > "$T/int/chain.yml"
"$WEFT" run -j 2 "$T/int/chain.yml" >"$T/int/out1.txt" 2>&1 &
pid=$!
two_done() { [ "$(cat "$T/int/done.log" 2>/dev/null | wc -l)" -ge 2 ]; }
wait_for two_done
kill -INT $pid
wait $pid
rc=$?
check "SIGINT exits 130" [ "$rc" = 130 ]
before=$(wc -l < "$T/int/done.log")
check "interrupted before the end" [ "$before" -lt 6 ]
rc=$(run "$T/int/chain.yml")
check "rerun resumes and succeeds" [ "$rc" = 0 ]
check "every job ran exactly once" [ "$(sort "$T/int/done.log" | uniq -c | awk '$1 != 1' | wc -l)" = 0 ]
check "all six ran" [ "$(wc -l < "$T/int/done.log")" = 6 ]
check "resume said so" grep -q "resuming run" "$T/out.txt"

# ---- rescue: after a failure only failed and cancelled jobs run again ----
mkdir -p "$T/res"
cat > "$T/res/r.yml" <<'YML'
jobs:
  ok:
    run: echo ok >> side.log
  flaky:
    run: test -f fixed && echo flaky >> side.log
  after:
    needs: [ok, flaky]
    run: echo after >> side.log
YML
rc=$(run "$T/res/r.yml")
check "rescue: first run fails" [ "$rc" = 1 ]
touch "$T/res/fixed"
rc=$(run "$T/res/r.yml")
check "rescue: second run succeeds" [ "$rc" = 0 ]
check "rescue: done job not re-run" [ "$(grep -c '^ok$' "$T/res/side.log")" = 1 ]
check "rescue: cancelled dependent ran" [ "$(grep -c '^after$' "$T/res/side.log")" = 1 ]

# ---- a changed file after a failure ----
rm -f "$T/res/fixed" "$T/res/side.log"
rc=$(run "$T/res/r.yml" --restart)
check "changed: fails first" [ "$rc" = 1 ]
sed -i 's/test -f fixed \&\& echo flaky/echo flaky2/' "$T/res/r.yml"
rc=$(run "$T/res/r.yml")
check "changed file needs a decision (exit 2)" [ "$rc" = 2 ]
check "changed job is named" grep -q "flaky changed" "$T/err.txt"
rc=$(run "$T/res/r.yml" --resume-changed)
check "--resume-changed succeeds" [ "$rc" = 0 ]
check "--resume-changed carried the done job" [ "$(grep -c '^ok$' "$T/res/side.log")" = 1 ]
check "--resume-changed ran the changed job" grep -q '^flaky2$' "$T/res/side.log"

# ---- retries of a flaky command ----
mkdir -p "$T/retry"
printf 'jobs:\n  f:\n    run: test -f m || { touch m; exit 1; }\n    retries: 1\n' > "$T/retry/f.yml"
rc=$(run "$T/retry/f.yml")
check "flaky command succeeds on retry" [ "$rc" = 0 ]

# ---- timeout: the job's processes are gone afterwards ----
mkdir -p "$T/to"
cat > "$T/to/t.yml" <<'YML'
jobs:
  slow:
    run: sleep 300 & echo $! > bg.pid; echo $$ > sh.pid; sleep 300
    timeout: 1s
YML
rc=$(run "$T/to/t.yml")
check "timeout fails the run" [ "$rc" = 1 ]
check "summary says timed out" grep -q "slow: timed out" "$T/out.txt"
# gone PIDFILE: the process no longer runs (a zombie left for an init that does not reap counts)
gone() {
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 0
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]
}
check "background process of a timed-out job is gone" wait_for gone "$T/to/bg.pid"
check "shell of a timed-out job is gone" wait_for gone "$T/to/sh.pid"

# ---- progress through WEFT_PROGRESS_FD ----
mkdir -p "$T/prog"
cat > "$T/prog/p.yml" <<'YML'
jobs:
  p:
    run: echo "42 halfway there" >&$WEFT_PROGRESS_FD; while [ ! -f go ]; do sleep 0.05; done
YML
"$WEFT" run -j 1 "$T/prog/p.yml" >/dev/null 2>&1 &
pid=$!
seen() { "$WEFT" status --state "$T/prog/.weft" 2>/dev/null | grep -q "42%"; }
check "progress shows in weft status" wait_for seen
touch "$T/prog/go"
wait $pid
check "progress job finishes" [ $? = 0 ]

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
