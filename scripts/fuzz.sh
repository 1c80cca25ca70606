#!/usr/bin/env bash
# make fuzz: for one harness, build it, instrument the library under test with SharpFuzz and run afl-fuzz for a
# bounded time. Usage: scripts/fuzz.sh NAME HARNESS_DIR LIBRARY_DLL
#   e.g. scripts/fuzz.sh commands commands/Ppn.Commands.Fuzz Ppn.Commands.dll
# FUZZ_SECONDS (default 60) bounds the run; findings land in out/fuzz/NAME/. Fails when afl found a crash.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: scripts/fuzz.sh NAME HARNESS_DIR LIBRARY_DLL" >&2; exit 2; }
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/$2"
library=$3
harness=$(basename "$here")
out="$root/out/fuzz/$name"
bin="$out/bin"
tools="$root/out/tools"
seconds=${FUZZ_SECONDS:-60}

command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz missing; run scripts/install-deps.sh (Debian afl++)" >&2; exit 1; }
# The SharpFuzz instrumenter is a .NET tool from NuGet (same version as the SharpFuzz package we reference).
if [[ ! -x "$tools/sharpfuzz" ]]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

rm -rf "$bin"
dotnet publish "$here/$harness.csproj" -c Release -o "$bin" --nologo -v:minimal -p:UseAppHost=false
# The corpus must pass first (before instrumenting: instrumented code only runs under afl): a harness that
# throws on a seed is a harness bug.
dotnet "$bin/$harness.dll" --once "$here"/corpus/*
# Instrument only our library: the code under test, not the runtime or libsodium's managed wrapper.
"$tools/sharpfuzz" "$bin/$library"

mkdir -p "$out/findings"
export AFL_SKIP_BIN_CHECK=1              # the target is `dotnet`, not an afl-instrumented ELF
export AFL_NO_UI=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  # core_pattern belongs to the host, not to us
export AFL_SKIP_CPUFREQ=1
afl-fuzz -V "$seconds" -t 5000 -m none -i "$here/corpus" -o "$out/findings" -- dotnet "$bin/$harness.dll"

crashes=$(find "$out/findings" -path '*crashes/id*' | wc -l)
execs=$(awk -F: '/execs_done/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
paths=$(awk -F: '/corpus_count/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
echo "fuzz $name: ${seconds}s, ${execs} executions, ${paths} corpus entries, ${crashes} crashes (findings: $out/findings)"
[[ "$crashes" -eq 0 ]]
