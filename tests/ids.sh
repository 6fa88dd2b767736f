#!/bin/sh
# ids.sh - new objects get the ids the kernel would give.
#
# The same sequence of creations and removals runs on the kernel (util-linux
# ipcmk/ipcrm in a private IPC namespace: unshare --ipc) and on uipc (uipc
# ipcmk/ipcrm under a fresh UIPC_ROOT), and the ids printed must be the same:
# slots handed out cyclically within max(in use * 3/2, 64), the sequence
# number bumped when the slot wraps (the kernel's ipc_idr_alloc), ENOSPC
# once msgmni/semmni objects exist.  Needs root, unshare and util-linux's
# ipcmk (else exit 77).  Prints PASS/FAIL lines.  UIPC_ROOT is not used:
# every scenario makes its own root.

B=${B:-$(cd "$(dirname "$0")/.." && pwd)/build}
U=$B/uipc
if [ "$(id -u)" != 0 ] || ! command -v ipcmk >/dev/null || ! unshare --ipc true 2>/dev/null; then
	echo "ids.sh: needs root, unshare and ipcmk" >&2
	exit 77
fi
# Each scenario gets a root of its own, as the kernel side a new namespace.
roots=$(mktemp -d /dev/shm/uipc-ids.XXXXXX) || exit 1
trap 'rm -rf "$roots"' EXIT

# The scenario, run by sh with $TOOL ("" for util-linux, "uipc" for ours),
# $KIND (S or Q) and $MNI: 70 create-and-remove cycles (the slot wraps at
# 64), then fill up to the limit, one more, remove two, create two.
SCENARIO='
set_mni() {
	if [ -n "$TOOL" ]; then
		$TOOL limits set "$(echo $KIND | sed "s/S/semmni/;s/Q/msgmni/")=$1" >/dev/null
	elif [ "$KIND" = S ]; then
		echo "32000 1024000000 500 $1" >/proc/sys/kernel/sem
	else
		echo "$1" >/proc/sys/kernel/msgmni
	fi
}
mk() { if [ "$KIND" = S ]; then $TOOL ipcmk -S 1; else $TOOL ipcmk -Q; fi 2>&1 | sed "s/.*: //"; }
rm_() { $TOOL ipcrm -$(echo $KIND | tr SQ sq) "$1" >/dev/null 2>&1; }
set_mni "$MNI"
out= i=0
while [ $i -lt 70 ]; do id=$(mk); rm_ "$id"; out="$out $id"; i=$((i + 1)); done
a=$(mk); b=$(mk); c=$(mk); d=$(mk)
rm_ "$a"; rm_ "$b"
e=$(mk); f=$(mk)
echo "$out | $a $b $c $d $e $f"
'
nfailed=0
for KIND in S Q; do
	for MNI in 3 32000; do
		export KIND MNI
		kernel=$(TOOL= unshare --ipc sh -c "$SCENARIO")
		mkdir "$roots/$KIND$MNI"
		uipc=$(UIPC_ROOT=$roots/$KIND$MNI TOOL=$U sh -c "$SCENARIO")
		if [ "$kernel" = "$uipc" ]; then
			echo "PASS ids_$KIND$MNI"
		else
			echo "FAIL ids_$KIND$MNI"
			echo "  kernel: $kernel" >&2
			echo "  uipc:   $uipc" >&2
			nfailed=$((nfailed + 1))
		fi
	done
done
[ $nfailed -eq 0 ]
