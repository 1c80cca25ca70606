#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the demo need; does nothing when all are present.
# Idempotent and safe to run on every `make` (CI runs it on a fresh Debian 12 machine).
set -euo pipefail

packages=(
  qemu-system-x86     # emulated nodes (TCG; KVM fails with OVMF on our machines)
  ovmf                # UEFI firmware + NVRAM template for emulated nodes
  linux-image-amd64   # kernel + modules the image ships (efivarfs, wireguard, virtio-net, e1000e, tg3)
  iproute2            # ip netns / tap for the test rig
  cpio                # interop check of our own cpio writer
  zstd                # zstd-compressed initramfs (image-builder)
  systemd-boot-efi    # linuxx64.efi.stub: the EFI stub the Unified Kernel Image is built on (image-builder)
  dosfstools          # mkfs.vfat --invariant: the disk image's EFI system partition (image-builder)
  mtools              # mmd/mcopy/mdir: files into and out of the ESP without mounting (image-builder)
  e2fsprogs           # mkfs.ext4: the loop-device flash test mounts a partition of the flashed disk
  osslsigncode        # Authenticode signing of the UKI with a fixed signing time (reproducible signed builds)
  sbsigntool          # sbverify/sbattach: checking and stripping UKI signatures (image-builder tests)
  openssl             # throwaway Secure Boot keys in the image-builder signing test
  kmod                # modinfo, for interop checks of module ordering
  wireguard-tools     # wg: interop peer
  wireguard-go        # userspace WireGuard inside network namespaces (host has no module)
  ethtool             # interop peer for the NIC code
  efivar              # interop peer for the UEFI variable code
  netcat-openbsd      # nc: what a technician uses against the holding port
  iputils-ping        # ping between mesh namespaces (spoke to spoke through the hub)
  tshark              # runs tools/wireshark/ppn-commands.lua in the command-dissector test
  afl++               # afl-fuzz for `make fuzz` (commands/Ppn.Commands.Fuzz, SharpFuzz-instrumented)
  gcc                 # bench/recvmmsg_drain.c baseline and the socket ABI layout test
  busybox-static      # static busybox for the rig's stand-in node image (hw-tests self-tests)
  libusb-1.0-0        # ppn-rig: USB hub per-port power (libusb_control_transfer, bound in-process)
  prometheus          # promtool check metrics (the node's /metrics output) and the telemetry scenario's scraper
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]}; run as root (apt-get install) and retry" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v dotnet >/dev/null 2>&1; then
  echo "install-deps: the .NET 10 SDK (dotnet) is not on PATH; install it, then retry (global.json pins the band)" >&2
  exit 1
fi
