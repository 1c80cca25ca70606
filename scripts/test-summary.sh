#!/usr/bin/env bash
# Sums the TRX results of every test project into the one line CI reads: "N passed, N failed, N skipped".
# Exits non-zero when a test failed, when no result file exists, when a test assembly did not report, or when the
# leak check (scripts/leak-check.sh compare, its output in LEAK_REPORT) found something the suite left behind:
# each leaked thing counts as one failure.
set -euo pipefail
dir=${1:?usage: test-summary.sh RESULTS_DIR [EXPECTED_ASSEMBLIES] [LEAK_REPORT]}
expected=${2:-0}
leak_report=${3:-}
passed=0 failed=0 skipped=0 files=0
shopt -s nullglob
for f in "$dir"/*.trx; do
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  total=$(get total); executed=$(get executed); p=$(get passed); fl=$(get failed); e=$(get error); t=$(get timeout); a=$(get aborted)
  passed=$((passed + p))
  failed=$((failed + fl + e + t + a))
  skipped=$((skipped + total - executed))
  # Failed tests: list their names so the log says what broke without opening the TRX.
  grep -o 'testName="[^"]*" [^>]*outcome="Failed"' "$f" | sed 's/testName="\([^"]*\)".*/  FAILED: \1/' || true
done
if ((files == 0)); then
  echo "test-summary: no TRX files in $dir (did the build fail?)" >&2
  failed=$((failed + 1))
elif ((files < expected)); then
  # A test host that crashed writes no TRX: its tests would silently vanish from the count.
  echo "test-summary: $files of $expected test assemblies reported; the others crashed or did not build" >&2
  failed=$((failed + expected - files))
fi
if [[ -n $leak_report ]]; then
  if [[ ! -s $leak_report ]]; then
    echo "test-summary: the leak check wrote nothing to $leak_report" >&2
    failed=$((failed + 1))
  else
    cat "$leak_report"
    leaks=$(grep -c '^LEAKED: ' "$leak_report" || true)
    failed=$((failed + leaks))
  fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
