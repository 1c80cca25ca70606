#!/usr/bin/env bash
# make fuzz: build the harness, instrument Ppn.Commands.dll with SharpFuzz, run afl-fuzz for a bounded time.
# FUZZ_SECONDS (default 60) bounds the run; findings land in out/fuzz/commands/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/commands/Ppn.Commands.Fuzz"
out="$root/out/fuzz/commands"
bin="$out/bin"
tools="$root/out/tools"
seconds=${FUZZ_SECONDS:-60}

command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz missing; run scripts/install-deps.sh (Debian afl++)" >&2; exit 1; }
# The SharpFuzz instrumenter is a .NET tool from NuGet (same version as the SharpFuzz package we reference).
if [[ ! -x "$tools/sharpfuzz" ]]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

rm -rf "$bin"
dotnet publish "$here/Ppn.Commands.Fuzz.csproj" -c Release -o "$bin" --nologo -v:minimal -p:UseAppHost=false
# Instrument only our library: the code under test, not the runtime or libsodium's managed wrapper.
"$tools/sharpfuzz" "$bin/Ppn.Commands.dll"

mkdir -p "$out/findings"
export AFL_SKIP_BIN_CHECK=1              # the target is `dotnet`, not an afl-instrumented ELF
export AFL_NO_UI=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  # core_pattern belongs to the host, not to us
export AFL_SKIP_CPUFREQ=1
afl-fuzz -V "$seconds" -t 5000 -m none -i "$here/corpus" -o "$out/findings" -- dotnet "$bin/Ppn.Commands.Fuzz.dll"

crashes=$(find "$out/findings" -path '*crashes/id*' | wc -l)
execs=$(awk -F: '/execs_done/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
paths=$(awk -F: '/corpus_count/ {gsub(/ /,"",$2); print $2}' "$out"/findings/default/fuzzer_stats 2>/dev/null || echo "?")
echo "fuzz: ${seconds}s, ${execs} executions, ${paths} corpus entries, ${crashes} crashes (findings: $out/findings)"
[[ "$crashes" -eq 0 ]]
