#!/bin/sh
# shm_example.sh - examples/shm_server and examples/shm_client (a segment
# guarded by a semaphore, "data ready" and "done" through a queue; the client
# reads its lines from a pipe), programs built without uipc, run on uipc with
# `uipc run` and on the kernel:
#  - on uipc, twice (the server's IPC_EXCL would fail the second time had the
#    first left anything), both print the expected lines and exit 0, and no
#    object's file or name is left in the root (a segment slot's files stay,
#    FREE and holding no memory, for the next segment of that slot);
#  - no System V IPC system call reaches the kernel (strace, when it is there
#    and works);
#  - on the kernel, in a fresh IPC namespace (unshare --ipc, root), the same
#    lines, and nothing left in the namespace.
# The input has an empty line and a line of 9000 bytes, which goes through
# the segment (4000 bytes of text) in three pieces.
# Run by tests/run.sh with B=<absolute build dir> and a fresh UIPC_ROOT.
# Skips (77) under the sanitizers: an ASan library cannot be preloaded into
# uninstrumented programs.  Every session is bounded by timeout(1).
B=${B:?}
[ -z "${UIPC_SANITIZE:-}" ] || exit 77
: "${UIPC_ROOT:?}"
server=$B/examples/shm_server
client=$B/examples/shm_client
for ex in "$server" "$client"; do
	[ -x "$ex" ] || { echo "FAIL shm_example: $ex not built"; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/key"
fails=0
check() {	# name, then a command that must succeed
	name=$1; shift
	if "$@"; then echo "PASS $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}

# 4 lines, 6 pieces, 5 + 0 + 19 + 9000 bytes.
{
	echo "hello"
	echo ""
	echo "Mixed Case, 123 !?."
	awk 'BEGIN { for (i = 0; i < 9000; i++) printf "%c", 97 + i % 26; print "" }'
} > "$work/input"
# shellcheck disable=SC2018,SC2019 # as toupper() in the C locale: ASCII only
{
	tr a-z A-Z < "$work/input" | sed 's/^/client: /'
	echo "client: 4 lines went through the segment; asking the server to quit"
} > "$work/client.expected"
cat > "$work/server.expected" <<'EOF'
server: ready: a segment of 4008 bytes, a semaphore as its mutex, a queue
server: first piece of text; the segment is attached by 2 processes
server: quit after 6 pieces (9024 bytes); removing the segment, the semaphore and the queue
EOF

# One session: the server in the background, the client reading the input;
# each one's output and exit status in $work/NAME.{server,client}[.rc].
cat > "$work/session.sh" <<'EOF'
work=$1 server=$2 client=$3 out=$1/$4
"$server" "$work/key" > "$out.server" 2>&1 &
spid=$!
"$client" "$work/key" < "$work/input" > "$out.client" 2>&1
rc=$?
echo $rc > "$out.client.rc"
[ $rc -eq 0 ] || kill $spid
wait $spid
echo $? > "$out.server.rc"
EOF
# Runs a session under "$@" (a launcher: uipc run, unshare, strace), bounded;
# true if the launcher and both programs exited 0, the programs printing the
# expected lines.
session() {
	run=$1; shift
	ok=0
	timeout -k 5 30 "$@" sh "$work/session.sh" "$work" "$server" "$client" "$run" ||
		{ echo "  [$run] the session failed or timed out (status $?)" >&2; ok=1; }
	for p in server client; do
		rc=$(cat "$work/$run.$p.rc" 2> /dev/null)
		[ "$rc" = 0 ] || { echo "  [$run] $p exit status ${rc:-none}" >&2; ok=1; }
		cmp -s "$work/$p.expected" "$work/$run.$p" ||
			{ diff "$work/$p.expected" "$work/$run.$p" | cut -c1-160 |
				sed "s/^/  [$run.$p] /" >&2; ok=1; }
	done
	return $ok
}
# A segment slot's recycled files (src/slot_files.c): a header whose state
# (the 32-bit word at byte 8) is FREE (4), a data file that holds no memory.
free_slot_file() {
	case $1 in
	*.data) [ "$(stat -c %b "$1")" = 0 ] ;;
	*) [ "$(od -An -tu4 -j8 -N4 "$1" | tr -d ' ')" = 4 ] ;;
	esac
}
# No object of any kind left in the uipc root: neither files nor names.
uipc_root_empty() {
	for f in "$UIPC_ROOT"/shm.* "$UIPC_ROOT"/sem.* "$UIPC_ROOT"/msg.* "$UIPC_ROOT"/names/*; do
		case $f in "$UIPC_ROOT"/shm.*) [ -e "$f" ] && free_slot_file "$f" && continue ;; esac
		[ -e "$f" ] && { echo "  left in the root: $f" >&2; return 1; }
	done
	return 0
}

check shm_example_uipc session uipc1 "$B/uipc" run --
check shm_example_uipc_removed uipc_root_empty
check shm_example_uipc_again session uipc2 "$B/uipc" run --
check shm_example_uipc_removed_again uipc_root_empty

ns=
[ "$(id -u)" = 0 ] && unshare --ipc true 2> /dev/null && ns="unshare --ipc"

# System calls: none of the IPC family, in a fresh namespace when we can
# make one, so that a leak could not touch the machine's objects.
if command -v strace > /dev/null && strace -qq -o /dev/null true 2> /dev/null; then
	# shellcheck disable=SC2086 # $ns: no word or two
	check shm_example_strace session traced $ns \
		strace -f -qq -e signal=none -e trace=%ipc -o "$work/trace" \
		"$B/uipc" run --
	check shm_example_no_kernel_ipc test -f "$work/trace" -a ! -s "$work/trace"
	[ -s "$work/trace" ] && head -20 "$work/trace" | sed 's/^/  [trace] /' >&2
	check shm_example_traced_removed uipc_root_empty
else
	echo "  strace is missing or cannot trace here: system call check skipped" >&2
fi

# The kernel: the same lines, and nothing left in the namespace.
# shellcheck disable=SC2016
kernel='"$@" && for f in shm sem msg; do
	test "$(wc -l < /proc/sysvipc/$f)" -le 1 || { cat /proc/sysvipc/$f >&2; exit 1; }
done'
if [ -n "$ns" ]; then
	check shm_example_kernel session kernel unshare --ipc sh -c "$kernel" sh
else
	echo "  cannot unshare the IPC namespace: kernel run skipped" >&2
fi

[ $fails -eq 0 ]
