#!/usr/bin/env bash
# make fuzz (genesis half): build the harness, instrument Ppn.Genesis.dll with SharpFuzz, run afl-fuzz for a
# bounded time. FUZZ_SECONDS (default 60) bounds the run; findings land in out/fuzz/genesis/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/genesis/Ppn.Genesis.Fuzz"
out="$root/out/fuzz/genesis"
bin="$out/bin"
tools="$root/out/tools"
seconds=${FUZZ_SECONDS:-60}

command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz missing; run scripts/install-deps.sh (Debian afl++)" >&2; exit 1; }
if [[ ! -x "$tools/sharpfuzz" ]]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

rm -rf "$bin"
dotnet publish "$here/Ppn.Genesis.Fuzz.csproj" -c Release -o "$bin" --nologo -v:minimal -p:UseAppHost=false
# The corpus must pass first (before instrumenting: instrumented code only runs under afl): a harness that
# throws on a seed is a harness bug.
dotnet "$bin/Ppn.Genesis.Fuzz.dll" --once "$here"/corpus/*
"$tools/sharpfuzz" "$bin/Ppn.Genesis.dll"

mkdir -p "$out/findings"
export AFL_SKIP_BIN_CHECK=1
export AFL_NO_UI=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_SKIP_CPUFREQ=1
afl-fuzz -V "$seconds" -t 5000 -m none -i "$here/corpus" -o "$out/findings" -- dotnet "$bin/Ppn.Genesis.Fuzz.dll"

crashes=$(find "$out/findings" -path '*crashes/id*' | wc -l)
execs=$(awk -F: '/execs_done/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
paths=$(awk -F: '/corpus_count/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
echo "fuzz genesis: ${seconds}s, ${execs} executions, ${paths} corpus entries, ${crashes} crashes (findings: $out/findings)"
[[ "$crashes" -eq 0 ]]
