#!/usr/bin/env bash
# What a test run left on this machine. A test that leaks (a namespace, a daemon, a socket) hides a missing setup
# step from CI: the next run finds the state ready and passes where a fresh machine fails.
#
#   leak-check.sh snapshot FILE   record the machine's state before the suite starts
#   leak-check.sh tidy FILE       undo what the interop tools set up on first use and never take down, when the
#                                 snapshot did not have it: the bind mount of /run/netns onto itself that the first
#                                 'ip netns add' makes ('ip netns delete' keeps it), and the /var/run/wireguard
#                                 directory the first wireguard-go makes for its UAPI sockets (it removes only its
#                                 socket). Only an empty one is taken down; what is still in it is left for compare
#                                 to name.
#   leak-check.sh compare FILE    list what exists now and did not then, one "LEAKED: <kind> <what>" line each;
#                                 exit 1 when anything leaked. State present before the run is named, not counted.
#
# Kinds: netns, link (root namespace: taps, bridges, veths, wireguard), process (qemu, wireguard-go, capture tools,
# node processes), socket (wireguard-go UAPI), dir (/var/run/wireguard), loop (loop devices), mount, tmp (a new /tmp entry named ppn*, or any
# new /tmp entry over 16 MiB).
set -uo pipefail

processes='qemu-system-x86_64|qemu-system-x86|wireguard-go|dumpcap|tshark|tcpdump|ppn|ppn-rig|Ppn.Rig.GenesisNode|Ppn.Rig.Cli|prometheus|socat'

state() {
  ip netns list 2>/dev/null | awk '{print "netns " $1}'
  ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
  # pid and command: a process from before the run is the same pid afterwards.
  pgrep -a -x "$processes" 2>/dev/null | cut -c1-160 | sed 's/^/process /'
  for s in /var/run/wireguard/*.sock; do [[ -e $s ]] && echo "socket $s"; done
  # A fresh machine has no such directory; a run that leaves it hides from the next one whatever assumes it.
  [[ -d /var/run/wireguard ]] && echo "dir /var/run/wireguard"
  losetup -n -O NAME,BACK-FILE 2>/dev/null | awk '{print "loop " $1 " " $2}'
  # Namespace files under /run/netns are bind mounts: counted as netns above.
  awk '$2 !~ "^/run/netns/" && $2 !~ "^/var/run/netns/" {print "mount " $2 " (" $3 ")"}' /proc/self/mounts
  # Kept on purpose: the rig's emulator slot is a flock(2) file (hw-tests/Ppn.Rig/Emulation/EmulatorSlot.cs); deleting
  # a lock file races with the next holder opening it, and an empty file changes no later run.
  find /tmp -mindepth 1 -maxdepth 1 -name 'ppn*' -not -name 'ppn-rig-emulator.lock' -printf 'tmp %p\n' 2>/dev/null
  find /tmp -mindepth 1 -maxdepth 1 -not -name 'ppn*' -print0 2>/dev/null |
    du -s --files0-from=- 2>/dev/null | awk '$1 > 16384 {print "tmp " $2}'
  # Tests in other assemblies create and remove /tmp entries while this runs: du (and find, pgrep with no match)
  # report that as a failure. What was listed is the state; a vanished entry is not an error of the snapshot.
  return 0
}

leaks_against() {
  comm -13 <(sort -u "$1") <(state | sort -u)
}

case "${1:-}" in
  snapshot)
    file=${2:?usage: leak-check.sh snapshot FILE}
    state | sort -u > "$file" || { echo "leak-check: cannot write the snapshot $file" >&2; exit 2; }
    ;;
  tidy)
    file=${2:?usage: leak-check.sh tidy FILE}
    [[ -f $file ]] || { echo "leak-check: no snapshot $file (run 'leak-check.sh snapshot $file' before the suite)" >&2; exit 2; }
    if ! grep -q '^dir /var/run/wireguard$' "$file" && [[ -d /var/run/wireguard ]]; then
      if [[ -n $(ls -A /var/run/wireguard 2>/dev/null) ]]; then
        echo "leak-check: /var/run/wireguard left: sockets are still in it"
      else
        rmdir /var/run/wireguard || { echo "leak-check: cannot remove /var/run/wireguard, which this run's first wireguard-go made" >&2; exit 1; }
        echo "leak-check: /var/run/wireguard removed (this run's first wireguard-go had made it)"
      fi
    fi
    grep -q '^mount /run/netns (' "$file" && exit 0
    # Two first 'ip netns add' racing on a fresh machine can each stack one: take down all of them.
    while mountpoint -q /run/netns; do
      if [[ -n $(ls -A /run/netns 2>/dev/null) ]]; then
        echo "leak-check: /run/netns left mounted: namespaces are still in it"
        exit 0
      fi
      umount /run/netns || { echo "leak-check: cannot unmount /run/netns, which this run's first 'ip netns add' mounted" >&2; exit 1; }
      echo "leak-check: /run/netns unmounted (this run's first 'ip netns add' had bind-mounted it)"
    done
    ;;
  compare)
    file=${2:?usage: leak-check.sh compare FILE}
    [[ -f $file ]] || { echo "leak-check: no snapshot $file (run 'leak-check.sh snapshot $file' before the suite)" >&2; exit 2; }
    # A process killed at the very end of the last test may still be exiting: look again for up to
    # LEAK_CHECK_GRACE seconds (default 10) before calling it a leak.
    leaked=$(leaks_against "$file")
    for _ in $(seq $((${LEAK_CHECK_GRACE:-10} * 5))); do
      [[ -z $leaked ]] && break
      sleep 0.2
      leaked=$(leaks_against "$file")
    done
    before=$(grep -v '^link \(lo\|eth[0-9]*\|ifb[0-9]*\)$' "$file" | grep -v '^mount ' || true)
    if [[ -n $before ]]; then
      echo "leak-check: present before this run, not counted:"
      sed 's/^/  /' <<< "$before"
    fi
    if [[ -z $leaked ]]; then
      echo "leak-check: clean (no namespace, link, process, socket, directory, loop device, mount or temp dir left)"
      exit 0
    fi
    sed 's/^/LEAKED: /' <<< "$leaked"
    exit 1
    ;;
  *)
    echo "usage: leak-check.sh snapshot FILE | tidy FILE | compare FILE" >&2
    exit 2
    ;;
esac
