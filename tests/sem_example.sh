#!/bin/sh
# sem_example.sh - examples/sem_parent_child (a parent waits for its child
# through a semaphore; the child's SEM_UNDO is undone at its exit), a program
# built without uipc, run on uipc with `uipc run` and on the kernel:
#  - on uipc, with an IPC_PRIVATE set and with an ftok key (twice: the second
#    run's IPC_CREAT|IPC_EXCL would fail if the first had left its set), it
#    prints the expected lines and exits 0, and no set's file is left in the
#    root;
#  - no System V IPC system call reaches the kernel (strace, when it is there
#    and works);
#  - on the kernel, in a fresh IPC namespace (unshare --ipc, root), it prints
#    the same lines and leaves no set behind.
# Run by tests/run.sh with B=<absolute build dir> and a fresh UIPC_ROOT.
# Skips (77) under the sanitizers: an ASan library cannot be preloaded into
# uninstrumented programs.  Every run is bounded by timeout(1).
B=${B:?}
[ -z "${UIPC_SANITIZE:-}" ] || exit 77
: "${UIPC_ROOT:?}"
ex=$B/examples/sem_parent_child
[ -x "$ex" ] || { echo "FAIL sem_example: $ex not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
touch "$work/key"
fails=0
check() {	# name, then a command that must succeed
	name=$1; shift
	if "$@"; then echo "PASS $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
cat > "$work/expected" <<'EOF'
parent: created a set of 2 semaphores, done = 0, lock = 1
child: took the lock, wrote 1 + ... + 1000 = 500500, V(done)
parent: P(done) returned, the child's result is 500500
parent: the child exited holding the lock; SEM_UNDO released it
parent: removed the set
EOF
# Runs "$@" with its output in $work/$out; true if it exited 0 printing the
# expected lines (stderr, if any, is shown).
out=
runs() {
	out=$1; shift
	timeout -k 5 20 "$@" > "$work/$out" 2> "$work/$out.err"
	rc=$?
	[ -s "$work/$out.err" ] && sed "s/^/  [$out] /" "$work/$out.err" >&2
	[ $rc -eq 0 ] || { echo "  [$out] exit status $rc" >&2; return 1; }
	cmp -s "$work/expected" "$work/$out" ||
		{ diff "$work/expected" "$work/$out" | sed "s/^/  [$out] /" >&2; return 1; }
}

check sem_example_uipc_private runs uipc "$B/uipc" run -- "$ex"
check sem_example_uipc_key runs key1 "$B/uipc" run -- "$ex" "$work/key"
check sem_example_uipc_key_again runs key2 "$B/uipc" run -- "$ex" "$work/key"
no_set_file() { set -- "$UIPC_ROOT"/sem.*; [ ! -e "$1" ]; }
check sem_example_uipc_removed no_set_file

# System calls: none of the IPC family, in a fresh namespace when we can
# make one, so that a leak could not touch the machine's objects.
if command -v strace > /dev/null && strace -qq -o /dev/null true 2> /dev/null; then
	ns=
	[ "$(id -u)" = 0 ] && unshare --ipc true 2> /dev/null && ns="unshare --ipc"
	# shellcheck disable=SC2086 # $ns: no word or two
	check sem_example_strace runs traced $ns \
		strace -f -qq -e signal=none -e trace=%ipc -o "$work/trace" \
		"$B/uipc" run -- "$ex" "$work/key"
	check sem_example_no_kernel_ipc test -f "$work/trace" -a ! -s "$work/trace"
	[ -s "$work/trace" ] && sed 's/^/  [trace] /' "$work/trace" >&2
else
	echo "  strace is missing or cannot trace here: system call check skipped" >&2
fi

# The kernel: the same lines, and nothing left in the namespace.
# shellcheck disable=SC2016
kernel='"$@" && test "$(wc -l < /proc/sysvipc/sem)" -le 1'
if [ "$(id -u)" = 0 ] && unshare --ipc true 2> /dev/null; then
	check sem_example_kernel_private runs kernel1 unshare --ipc sh -c "$kernel" sh "$ex"
	check sem_example_kernel_key runs kernel2 unshare --ipc sh -c "$kernel" sh "$ex" "$work/key"
else
	echo "  cannot unshare the IPC namespace: kernel runs skipped" >&2
fi

[ $fails -eq 0 ]
