#!/bin/sh
# make demo: a message-queue server and four clients, unmodified programs
# written for the kernel's msgget/msgsnd/msgrcv, run on uipc with `uipc run`.
# While they talk, `uipc ipcs -q` shows the queue.  Then a parent waits for
# its child through a semaphore (semget/semop/semctl, SEM_UNDO), on uipc too.
# Last, a server and an interactive client share a segment (shmget/shmat),
# guard it with a semaphore and say "data ready" through a queue.
# $B is the build directory.
set -e
B=${B:-build}
root=$(mktemp -d /dev/shm/uipc-demo.XXXXXX)
chmod 1777 "$root"
keyfile=$root/keyfile
touch "$keyfile"
trap 'rm -rf "$root"' EXIT
run() { "$B/uipc" run --root "$root" -- "$@"; }

echo "== uipc demo: root $root"
run "$B/examples/msg_server" "$keyfile" &
server=$!
tries=0
until UIPC_ROOT=$root "$B/uipc" ipcs -q | grep -q '^0x'; do	# the server's queue
	tries=$((tries + 1))
	[ $tries -lt 200 ] || { echo "demo: the server did not start" >&2; exit 1; }
	sleep 0.05
done
pids=
for c in 1 2 3 4; do
	run "$B/examples/msg_client" "$keyfile" 200000 &
	pids="$pids $!"
done
sleep 0.1
echo "== uipc ipcs -q, while the clients run:"
UIPC_ROOT=$root "$B/uipc" ipcs -q
for p in $pids; do wait "$p"; done
run "$B/examples/msg_client" "$keyfile" stop
wait $server
echo "== after the server removed its queue:"
UIPC_ROOT=$root "$B/uipc" ipcs -q
echo "== a parent waits for its child through a semaphore (semop), on uipc:"
run "$B/examples/sem_parent_child" "$keyfile"
echo "== lines through a segment (shmat) guarded by a semaphore, \"data ready\" by a queue, on uipc:"
run "$B/examples/shm_server" "$keyfile" &
server=$!
printf 'hello, shared memory\nSystem V IPC in user space\n' |
	run "$B/examples/shm_client" "$keyfile" || { kill $server; exit 1; }
wait $server
