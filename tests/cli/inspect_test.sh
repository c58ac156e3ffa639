#!/usr/bin/env bash
# inspect_test.sh WEFT -- the inspecting verbs of `weft` end to end: status, list, logs, why and
# dot on a real run with every terminal state (done, failed with exit 3, cancelled by the
# failure, skipped, a `when: always` and a `when: failure` job that run), then on a run in
# progress (read-only access while `weft run` holds the state), then bad usage and --help.
# Waits poll with a generous deadline; nothing here depends on timing.
set -euo pipefail
WEFT=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the checks run in $T
T=$(mktemp -d /tmp/weft-inspect-test.XXXXXX)
bg=
cleanup() {
    [ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
passes=0
pass() { echo "ok   - $*"; passes=$((passes + 1)); }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# has PATTERN / err_has PATTERN: grep -E in the last command's stdout / stderr
has() { grep -qE -- "$1" "$T/out.txt"; }
err_has() { grep -qE -- "$1" "$T/err.txt"; }
# w ARGS...: run weft in $T, stdout/stderr to files; sets rc (never trips set -e)
w() { rc=0; (cd "$T" && "$WEFT" "$@") >"$T/out.txt" 2>"$T/err.txt" || rc=$?; }
# wait_for CMD...: poll up to 60 s
wait_for() { local i; for i in $(seq 1 600); do if "$@"; then return 0; fi; sleep 0.1; done; return 1; }
show() { echo "--- stdout:"; cat "$T/out.txt"; echo "--- stderr:"; cat "$T/err.txt"; }

cat >"$T/flow.yml" <<'EOF'
name: flow
jobs:
  fine:
    run: echo fine-out; echo fine-err >&2
  breaks:
    needs: fine
    run: echo breaks-out; echo "the widget broke" >&2; exit 3
  downstream:
    needs: breaks
    run: echo never
  tidy:
    needs: downstream
    when: always
    run: echo tidied
  alarm:
    needs: breaks
    when: failure
    run: echo alarm raised
  no-alarm:
    needs: fine
    when: failure
    run: echo never either
EOF

# ---- a finished run with every outcome ----
w run -j 2 flow.yml
check "weft run exits 1 when a job failed" [ "$rc" = 1 ]

w list
check "list exits 0" [ "$rc" = 0 ]
check "list has a header" has '^ID +NAME +SESSION +STATE +JOBS +CREATED +DURATION'
check "list shows exactly one run" [ "$(grep -cE '^1 ' "$T/out.txt")" = 1 -a "$(wc -l <"$T/out.txt")" = 2 ]
check "list shows its name, session, state and jobs" has '^1 +flow +file:flow.yml +failed +4/6 '
w list --state .weft
check "list --state" has '^1 +flow '

w status
check "status exits 0 for a failed run" [ "$rc" = 0 ]
check "status header names the run" has '^run 1: flow'
check "status header gives the state" has '^state: +failed'
check "status header counts states" has '6 \(3 done, 1 failed, 1 cancelled, 1 skipped\)'
check "status header has times" has '^created: +[0-9]{4}-' 
check "status header has a duration" has '^duration: +[0-9.]+s'
check "status table header" has '^JOB +STATE +ATTEMPTS +DURATION +PROGRESS +REASON'
check "status: fine done" has '^fine +done +1 '
check "status: breaks failed, exit 3" has '^breaks +failed +1 .*exit 3$'
check "status: downstream cancelled because of breaks" \
    has "^downstream +cancelled +0 .*cancelled because of 'breaks'$"
check "status: tidy done (when: always)" has '^tidy +done +1 '
check "status: alarm done (when: failure)" has '^alarm +done +1 '
check "status: no-alarm skipped" has '^no-alarm +skipped +0 .*skipped'
# columns line up: STATE starts at the same column on every row
col=$(awk '/^JOB /{print index($0, "STATE")}' "$T/out.txt")
check "status columns are aligned" \
    [ "$(awk -v c="$col" 'f && substr($0, c - 2, 2) != "  " {bad = 1} /^JOB /{f = 1} END {print bad + 0}' "$T/out.txt")" = 0 ]
w status 1
check "status REQUEST" has '^run 1: flow'
w status r1
check "status rREQUEST" has '^run 1: flow'

w logs breaks
check "logs exits 0" [ "$rc" = 0 ]
check "logs prints stdout then stderr" \
    [ "$(grep -n breaks-out "$T/out.txt" | cut -d: -f1)" -lt "$(grep -n 'the widget broke' "$T/out.txt" | cut -d: -f1)" ]
check "logs has headers when printing both" has '^==> .*logs/1/breaks\.1\.err <==$'
w logs --stderr breaks
check "logs --stderr prints the stderr alone" [ "$(cat "$T/out.txt")" = "the widget broke" ]
w logs --stdout -r 1 --attempt 1 breaks
check "logs --stdout -r -a" [ "$(cat "$T/out.txt")" = "breaks-out" ]
w logs tidy
check "logs of a job that wrote no stderr: exit 0" [ "$rc" = 0 ]
check "  ... its stdout under its header" has '^tidied$'
check "  ... and (nothing written) under the stderr header, not an error" \
    eval 'has "^\(nothing written\)$" && ! err_has "No such file"'
w logs --stderr tidy
check "logs --stderr of it prints nothing on stdout" [ ! -s "$T/out.txt" ]
check "  ... and says (nothing written) on stderr" \
    err_has "^weft logs: stderr of job 'tidy', attempt 1: \(nothing written\)$"
w logs -f --stdout breaks
check "logs -f of a finished job prints it and exits" \
    eval '[ "$rc" = 0 ] && [ "$(cat "$T/out.txt")" = "breaks-out" ]'
w why breaks
check "why names the worker that ran it (the local slots)" \
    has '^Attempt 1 ran on worker local \(host [^ ]+\)\.$'
w logs downstream
check "logs of a job that never ran: exit 0 and a message" [ "$rc" = 0 ]
check "  ... which says so" err_has "never ran"
w logs nosuchjob
check "logs of an unknown job exits 2" [ "$rc" = 2 ]
w logs --attempt 2 breaks
check "logs of an attempt that did not happen exits 2" [ "$rc" = 2 ]

w why downstream
check "why exits 0" [ "$rc" = 0 ]
check "why of the cancelled job names the failed one" has "because 'breaks' failed"
check "  ... and how it failed" has "status 3"
w why breaks
check "why of the failed job gives its exit status" has "exited with status 3"
check "  ... its error message (stderr tail)" has "the widget broke"
check "  ... the retries" has "allowed no retries"
check "  ... the jobs it cancelled" has "1 job was cancelled: 'downstream'"
w why no-alarm
check "why of a skipped when: failure job" has "no parent failed"
w why fine
check "why of a done job" has "finished at .* in attempt 1"
w why -r 1 nosuchjob
check "why of an unknown job exits 2" [ "$rc" = 2 ]

w dot flow.yml
check "dot FILE exits 0" [ "$rc" = 0 ]
check "dot FILE is a digraph" has '^digraph "flow" \{$'
check "dot FILE ends" [ "$(tail -n 1 "$T/out.txt")" = "}" ]
node() { has "^  \"$1\" \[label=\"$1\\\\n$2\", .*fillcolor=\"$3\""; }
check "dot FILE: fine green" node fine done green
check "dot FILE: breaks red" node breaks failed red
check "dot FILE: downstream orange" node downstream cancelled orange
check "dot FILE: no-alarm grey" node no-alarm skipped grey
check "dot FILE: edge parent -> child" has '^  "fine" -> "breaks";$'
check "dot FILE: edge into when: always" has '^  "downstream" -> "tidy"'
w dot 1
check "dot REQUEST exits 0" [ "$rc" = 0 ]
check "dot REQUEST is a digraph" has '^digraph "flow \(run 1\)" \{$'
check "dot REQUEST: breaks red" node breaks failed red
check "dot REQUEST: tidy green" node tidy done green
check "dot REQUEST: edge" has '^  "breaks" -> "alarm"'
mkdir "$T/elsewhere"
cp "$T/flow.yml" "$T/elsewhere/flow.yml"
w dot elsewhere/flow.yml
check "dot FILE without a state is uncoloured" bash -c "! grep -q fillcolor '$T/out.txt'"
check "  ... but has the nodes" has '^  "breaks";$'
printf 'jobs:\n  a:\n    run: "true"\n    needs: b\n' >"$T/bad.yml"
w dot bad.yml
check "dot of an invalid file exits 2" [ "$rc" = 2 ]
check "  ... with FILE:LINE:COL diagnostics" err_has '^bad.yml:[0-9]+:[0-9]+: error: '

# ---- a run in progress: read-only while `weft run` holds the state ----
mkdir "$T/live"
cat >"$T/live/live.yml" <<'EOF'
jobs:
  gate:
    run: |
      echo "50 waiting for go" >&3
      while [ ! -f go ]; do sleep 0.05; done
  after:
    needs: gate
    run: echo after
EOF
(cd "$T" && exec "$WEFT" run -q -j 2 live/live.yml >"$T/live/out.txt" 2>&1) &
bg=$!
live_running() {
    (cd "$T" && "$WEFT" status --state live/.weft) >"$T/out.txt" 2>"$T/err.txt" &&
        grep -qE '^gate +running .*50% waiting for go' "$T/out.txt"
}
check "status works while weft run holds the state (running, progress)" wait_for live_running
check "  ... the run is running" has '^state: +running'
w why --state live/.weft after
check "why of a pending job names its unfinished parent" has '^  gate \(running'
w why --state live/.weft gate
check "why of a running job: attempt and progress" has "Attempt 1 has been running since"
w list --state live/.weft
check "list while running" has '^1 +live +file:live.yml +running +0/2 '
w dot --state live/.weft 1
check "dot: running blue, pending white" node gate running blue
check "  ... pending white" node after pending white
touch "$T/live/go"
rc=0
wait "$bg" || rc=$?
bg=
check "the live run finishes" [ "$rc" = 0 ]
w status --state live/.weft
check "status after it finished" has '^state: +succeeded'

# ---- bad usage and --help ----
for verb in status list logs why dot; do
    w "$verb" --help
    check "$verb --help exits 0" [ "$rc" = 0 ]
    check "$verb --help prints a usage" has "^usage: weft $verb"
    w "$verb" --no-such-option
    check "$verb with a bad option exits 2" [ "$rc" = 2 ]
done
w status 1 2
check "status with two requests exits 2" [ "$rc" = 2 ]
w status nonsense
check "status of a malformed request id exits 2" [ "$rc" = 2 ]
w status 99
check "status of an unknown request exits 2" [ "$rc" = 2 ]
w list extra
check "list with an argument exits 2" [ "$rc" = 2 ]
w logs
check "logs without a job exits 2" [ "$rc" = 2 ]
w logs --stdout --stderr breaks
check "logs --stdout --stderr exits 2" [ "$rc" = 2 ]
w logs --attempt 0 breaks
check "logs --attempt 0 exits 2" [ "$rc" = 2 ]
w why
check "why without a job exits 2" [ "$rc" = 2 ]
w dot
check "dot without an argument exits 2" [ "$rc" = 2 ]
w dot no-such-file.yml
check "dot of neither a file nor a request exits 2" [ "$rc" = 2 ]
w status --state "$T/nowhere"
check "status of a missing state directory exits 2" [ "$rc" = 2 ]
check "  ... and says so" err_has "no weft state"

echo "# $passes passed, $fails failed"
if [ "$fails" != 0 ]; then
    show
    exit 1
fi
