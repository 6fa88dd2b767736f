#!/bin/sh
# Unmodified programs on uipc through `uipc run` (LD_PRELOAD):
#  - the example server and clients work, through fork, exec and shells, and
#    no call reaches the kernel's System V IPC (strace sees none, and the
#    kernel's namespace, a fresh one from unshare, stays empty);
#  - a program that never calls the IPC functions pays nothing: no file
#    under the root is opened, no thread is started, no directory is made.
# Needs strace and unshare (root); skips (77) without them, and under the
# sanitizers (an ASan library cannot be preloaded into uninstrumented programs).
B=${B:?}
command -v strace >/dev/null && command -v unshare >/dev/null || exit 77
[ -z "${UIPC_SANITIZE:-}" ] || exit 77
[ "$(id -u)" = 0 ] || exit 77
root=${UIPC_ROOT:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/key"
fails=0
check() {	# name, then a command that must succeed
	name=$1; shift
	if "$@"; then echo "PASS $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# Server and clients: the server started through a shell, clients through
# nested shells and a fork (sh &), all under one `uipc run`.
session() {
	unshare --ipc sh -c '
		strace -f -qq -e signal=none -o "$1/trace" -e trace=msgget,msgsnd,msgrcv,msgctl \
		"$2/uipc" run -- sh -c "
			sh -c \"exec $2/examples/msg_server $1/key\" > $1/server.out &
			n=0
			until UIPC_ROOT=$3 $2/uipc ipcs -q | grep -q ^0x; do
				n=\$((n + 1)); [ \$n -lt 500 ] || exit 1; sleep 0.02
			done
			( $2/examples/msg_client $1/key 300 ) &
			sh -c \"$2/examples/msg_client $1/key 300\"
			wait %2 2>/dev/null
			$2/examples/msg_client $1/key stop
			wait
		" &&
		test ! -s /proc/sysvipc/msg -o "$(wc -l < /proc/sysvipc/msg)" -eq 1
	' sh "$work" "$B" "$root"
}
check preload_session session
check preload_server_served grep -q "served 600 requests" "$work/server.out"
check preload_no_kernel_ipc test ! -s "$work/trace"
check preload_queue_removed sh -c "! UIPC_ROOT='$root' '$B/uipc' ipcs -q | grep -q '^0x'"

# A program that never calls msgget & co.: same system calls as without.
quiet() {
	strace -f -qq -o "$work/$1" -e trace=openat,open,mkdir,clone,clone3 env $2 /bin/true
	grep -v 'libuipc-preload\|ld.so\|libc.so\|libm.so\|libdl\|libpthread\|locale' "$work/$1" |
		sed 's/^[0-9]* *//'
}
quiet plain "" > "$work/plain.sys"
quiet preloaded "LD_PRELOAD=$B/libuipc-preload.so" > "$work/pre.sys"
check preload_costs_nothing cmp -s "$work/plain.sys" "$work/pre.sys"
check preload_no_root_access sh -c "! grep -q '$root\\|/dev/shm' '$work/preloaded'"

[ $fails -eq 0 ]
