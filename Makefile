# PPN node appliance. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CONFIG      ?= Release
RID         := linux-x64
OUT         := $(CURDIR)/out
RESULTS     := $(OUT)/test-results
DOTNET      := dotnet
DOTNET_OPTS := --nologo -v:minimal -c $(CONFIG)
KVER        ?= $(shell ls /lib/modules 2>/dev/null | sort -V | tail -1)
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export PPN_REPO_ROOT := $(CURDIR)
# Every test project in the solution must report, or the summary counts it as failed.
TEST_ASSEMBLIES := $(shell grep -cE 'Path="[^"]*\.(Tests|Scenarios)\.csproj"' ppn.slnx)

.PHONY: help deps build publish image rig-native test hil demo bench fuzz clean

help:
	@echo "make demo     install what is missing, build the image, boot an emulated node twice (self-genesis, same identity)"
	@echo "make test     every test: unit, host integration, quick emulated-node scenarios; ends with 'N passed, N failed'"
	@echo "make publish  out/bin/ppn: one trimmed Native AOT executable (+ libsodium.so)"
	@echo "make image    out/image/: disk.img (GPT+ESP), ppn.efi (UKI), initramfs, kernel, manifest (NODE_CONFIG=file.json bakes a node configuration in)"
	@echo "make hil      the long emulated hardware-in-the-loop scenarios"
	@echo "make rig-native  out/rig-native/ppn-rig: the rig CLI as one Native AOT executable (the USB-in-a-guest self-test runs it);"
	@echo "                 out/genesis-node/: the herd's genesis node process, Native AOT like the node's ppn"
	@echo "make bench    ppn vs C baselines (libsodium, recvmmsg, sendmmsg, hello), interleaved, as ratios with goals; fails on a lost valid command; mesh sync latencies and a 253-spoke set"
	@echo "make fuzz     afl++ over the command parser/verifier, the genesis parsers and the mesh sync parsers, FUZZ_SECONDS each (default 60)"
	@echo "make clean    remove artifacts/ and out/"

deps:
	@scripts/install-deps.sh

build: deps
	$(DOTNET) build ppn.slnx $(DOTNET_OPTS)

publish: deps
	$(DOTNET) publish appliance/Ppn.Appliance/Ppn.Appliance.csproj $(DOTNET_OPTS) -r $(RID) -o $(OUT)/bin
	@rm -f $(OUT)/bin/*.dbg $(OUT)/bin/*.pdb
	@ls -l $(OUT)/bin

image: publish
	$(DOTNET) run --project image-builder/Ppn.ImageBuilder/Ppn.ImageBuilder.csproj -c $(CONFIG) -- \
	  build --appliance $(OUT)/bin --kernel-version $(KVER) --out $(OUT)/image $(if $(NODE_CONFIG),--config $(NODE_CONFIG))

# ppn-rig as one Native AOT executable: the rig's self-test runs it inside a QEMU guest (USB hub code vs a real kernel).
# The genesis node process, Native AOT as the node's ppn is: the herd scenario runs 253 of them (no JIT per process).
rig-native: deps
	$(DOTNET) publish hw-tests/Ppn.Rig.Cli/Ppn.Rig.Cli.csproj $(DOTNET_OPTS) -r $(RID) -p:PublishAot=true -o $(OUT)/rig-native
	@rm -f $(OUT)/rig-native/*.dbg $(OUT)/rig-native/*.pdb
	$(DOTNET) publish hw-tests/Ppn.Rig.GenesisNode/Ppn.Rig.GenesisNode.csproj $(DOTNET_OPTS) -r $(RID) -p:PublishAot=true -o $(OUT)/genesis-node
	@rm -f $(OUT)/genesis-node/*.dbg $(OUT)/genesis-node/*.pdb

# Both end with the leak check (scripts/leak-check.sh): whatever the suite left running or on disk is a failure.
test: image rig-native
	@rm -rf $(RESULTS); mkdir -p $(RESULTS)
	@scripts/leak-check.sh snapshot $(RESULTS)/machine-before.txt
	-$(DOTNET) test ppn.slnx $(DOTNET_OPTS) --logger trx --results-directory $(RESULTS)
	-@scripts/leak-check.sh tidy $(RESULTS)/machine-before.txt
	-@scripts/leak-check.sh compare $(RESULTS)/machine-before.txt > $(RESULTS)/leaks.txt
	@scripts/test-summary.sh $(RESULTS) $(TEST_ASSEMBLIES) $(RESULTS)/leaks.txt

hil: image rig-native
	@rm -rf $(OUT)/hil-results; mkdir -p $(OUT)/hil-results
	@scripts/leak-check.sh snapshot $(OUT)/hil-results/machine-before.txt
	-PPN_HIL=full $(DOTNET) test hw-tests/Ppn.Rig.Scenarios/Ppn.Rig.Scenarios.csproj $(DOTNET_OPTS) --logger trx --results-directory $(OUT)/hil-results
	-@scripts/leak-check.sh tidy $(OUT)/hil-results/machine-before.txt
	-@scripts/leak-check.sh compare $(OUT)/hil-results/machine-before.txt > $(OUT)/hil-results/leaks.txt
	@scripts/test-summary.sh $(OUT)/hil-results 0 $(OUT)/hil-results/leaks.txt

demo: image
	$(DOTNET) run --project hw-tests/Ppn.Rig.Cli/Ppn.Rig.Cli.csproj -c $(CONFIG) -- demo --image $(OUT)/image

# Native AOT on both sides (ppn as shipped, the bench driver around the real listener); the C baselines are
# compiled by the bench itself in the same run. docs/performance.md says how to read the figures. Exit 1 when
# the flood lost a valid command or was sender-bound. BENCH_ARGS: --reps N, --boot-console FILE, ...
# The boot timeline reads an emulated node's console: the newest self-genesis first boot the rig logged, if any.
BOOT_CONSOLE ?= $(lastword $(sort $(wildcard $(OUT)/rig/*-self-genesis-first-boot-*/node-a.console.log)))
bench: deps publish
	$(DOTNET) publish commands/Ppn.Commands.Bench/Ppn.Commands.Bench.csproj $(DOTNET_OPTS) -r $(RID) -o $(OUT)/bench
	$(DOTNET) publish commands/Ppn.AotHello.Bench/Ppn.AotHello.Bench.csproj $(DOTNET_OPTS) -r $(RID) -o $(OUT)/bench/aot-hello
	@rm -f $(OUT)/bench/*.dbg $(OUT)/bench/*.pdb $(OUT)/bench/aot-hello/*.dbg $(OUT)/bench/aot-hello/*.pdb
	$(OUT)/bench/Ppn.Commands.Bench --repo $(CURDIR) --ppn $(OUT)/bin/ppn --aot-hello $(OUT)/bench/aot-hello/aot-hello \
	  $(if $(wildcard $(OUT)/image/initramfs.cpio.gz),--initramfs $(OUT)/image/initramfs.cpio.gz) \
	  $(if $(BOOT_CONSOLE),--boot-console $(BOOT_CONSOLE)) $(BENCH_ARGS)
	@# Mesh sync figures (root, namespaces, wireguard-go): enrolment/direct/fallback/revocation latencies, a 253-spoke set.
	@mkdir -p $(OUT); PPN_BENCH=1 $(DOTNET) test mesh/Ppn.Mesh.Sync.Tests/Ppn.Mesh.Sync.Tests.csproj -c $(CONFIG) --filter "Category=Bench" \
	  --logger "console;verbosity=detailed" > $(OUT)/bench-sync.log 2>&1; status=$$?; grep -E '^sync: |Passed!|Failed!|Skipped' $(OUT)/bench-sync.log; exit $$status

fuzz: deps
	scripts/fuzz.sh commands commands/Ppn.Commands.Fuzz Ppn.Commands.dll
	scripts/fuzz.sh genesis genesis/Ppn.Genesis.Fuzz Ppn.Genesis.dll
	scripts/fuzz.sh mesh-sync mesh/Ppn.Mesh.Sync.Fuzz Ppn.Mesh.Sync.dll

clean:
	rm -rf artifacts out
