#!/bin/sh
# tool.sh - tests of the command-line tool, build/uipc (tools/uipc.c).
#
# Run by tests/run.sh with B=<absolute build dir> and a fresh UIPC_ROOT (when
# run by hand without UIPC_ROOT, a temporary root is made and removed).  Each
# case prints "PASS name" or "FAIL name" (reasons on stderr); the script exits
# 1 if any case failed.
#
# The expected texts are util-linux's (2.38) ipcs/ipcmk/ipcrm formats, written
# out literally for headers and built with the same printf widths for rows
# (they were checked against util-linux run on the kernel, in a private IPC
# namespace, scenario by scenario).  Queues, semaphore sets and segments are
# created with "uipc ipcmk"; messages are sent and received, semaphores set
# and operated on, segments attached, locked and removed, through the
# library itself (libuipc.so via python3's ctypes), or through the preload
# library under "uipc run"; those cases are skipped without python3.
# Nothing here touches the kernel's IPC objects.

B=${B:-$(cd "$(dirname "$0")/.." && pwd)/build}
U=$B/uipc
T=$(mktemp -d "${TMPDIR:-/tmp}/uipc-tool.XXXXXX") || exit 1
if [ -z "${UIPC_ROOT:-}" ]; then
	UIPC_ROOT=$(mktemp -d /dev/shm/uipc-tool.XXXXXX) || exit 1
	own_root=$UIPC_ROOT
	chmod 1777 "$UIPC_ROOT"	# as tests/run.sh does: the other-user cases need it
fi
export UIPC_ROOT
trap 'rm -rf "$T" ${own_root:+"$own_root"}' EXIT
if [ ! -x "$U" ]; then
	echo "FAIL tool: $U not built"
	exit 1
fi

me=$(id -un 2>/dev/null || id -u)
grp=$(id -gn 2>/dev/null || id -g)
nfailed=0
PY=$(command -v python3 || true)

begin() { name=$1; failed=0; }
fail() { echo "  [$name] $*" >&2; failed=1; }
end() {
	if [ $failed -eq 0 ]; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		nfailed=$((nfailed + 1))
	fi
}
skip() { echo "SKIP $1 ($2)"; }

# r CMD...: run it; $rc, $out (stdout, also in $T/out) and $err (stderr).
r() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}
want_rc() { [ "$rc" = "$1" ] || fail "exit status $rc, expected $1: $2"; }
want_err() { [ "$err" = "$1" ] || fail "stderr [$err], expected [$1]"; }
want_out() { [ "$out" = "$1" ] || fail "stdout [$out], expected [$1]"; }
# want_file: stdout exactly as $T/want, byte for byte.
want_file() { cmp -s "$T/want" "$T/out" || fail "stdout differs: $(diff "$T/want" "$T/out")"; }
want_line() { grep -qxF -- "$1" "$T/out" || fail "no line [$1] in [$out]"; }

# mkq [ipcmk options]: create a queue, print its id.
mkq() {
	o=$("$U" ipcmk -Q "$@") || return 1
	case $o in
	"Message queue id: "*) echo "${o#Message queue id: }" ;;
	*) return 1 ;;
	esac
}
# key_of ID: the key column of the queue's ipcs -q row.
key_of() { "$U" ipcs -q | awk -v id="$1" '$2 == id { print $1 }'; }
# row KEY ID OWNER PERMS BYTES MSGS: an ipcs -q row as util-linux prints it.
row() { printf '%s %-10s %-10.10s %-10s %-12s %-12s\n' "$@"; }
clean() { "$U" ipcrm -a >/dev/null 2>&1; }

# q OP ID [ARGS]: msgsnd/msgrcv/msgget through libuipc.so; prints the pid
# (or the id for get).  With "libc" instead of the library, through the libc
# names, which are the preload library's under "uipc run".
#   q send ID SIZE [COUNT]   q recv ID   q get KEY [FLAGS]   q chown ID UID GID
cat >"$T/q.py" <<'EOF'
import ctypes, os, sys
lib, op, arg = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
if lib == "libc":
    c, pre = ctypes.CDLL(None, use_errno=True), ""
else:
    c, pre = ctypes.CDLL(lib, use_errno=True), "uipc_"
snd, rcv, get, ctl = (getattr(c, pre + n) for n in ("msgsnd", "msgrcv", "msgget", "msgctl"))
snd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
rcv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_int]
rcv.restype = ctypes.c_ssize_t
def die(what):
    sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))
if op == "send":
    n = int(sys.argv[4])
    buf = ctypes.create_string_buffer(b"\1" + b"\0" * 7 + b"x" * n)
    for i in range(int(sys.argv[5]) if len(sys.argv) > 5 else 1):
        if snd(arg, buf, n, 0o4000) != 0:
            die("msgsnd")
elif op == "recv":
    buf = ctypes.create_string_buffer(8 + 65536)
    if rcv(arg, buf, 65536, 0, 0o4000) < 0:
        die("msgrcv")
elif op == "get":
    i = get(arg, int(sys.argv[4], 0) if len(sys.argv) > 4 else 0)
    if i < 0:
        die("msgget")
    print(i)
    sys.exit(0)
elif op == "chown":
    # struct ipc_perm starts with key, uid, gid in every glibc ABI.
    ds = ctypes.create_string_buffer(512)
    if ctl(arg, 2, ds) != 0:
        die("IPC_STAT")
    ctypes.c_uint.from_buffer(ds, 4).value = int(sys.argv[4])
    ctypes.c_uint.from_buffer(ds, 8).value = int(sys.argv[5])
    if ctl(arg, 1, ds) != 0:
        die("IPC_SET")
print(os.getpid())
EOF
q() { san "$PY" "$T/q.py" "$B/libuipc.so" "$@"; }

# san CMD...: runs CMD, a program that is not built with the sanitizers but
# loads our libraries (python, or anything under "uipc run").  In a
# sanitizer build (make sanitize) ASan then cannot come first in the library
# list, and the program's own leaks are not ours.
san() { ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0 "$@"; }
if [ -n "$PY" ] && ! san "$PY" -c 'import ctypes, sys; ctypes.CDLL(sys.argv[1])' "$B/libuipc.so"; then
	echo "python3 cannot load $B/libuipc.so: cases that send messages are skipped" >&2
	PY=
fi

# ---- help and usage errors ----

begin help
r "$U" --help
want_rc 0 "uipc --help"
case $out in "Usage:"*ipcs*ipcmk*ipcrm*limits*run*) ;; *) fail "--help: [$out]" ;; esac
r "$U" help
want_rc 0 "uipc help"
case $out in "Usage:"*ipcs*run*) ;; *) fail "help: [$out]" ;; esac
r "$U" help ipcrm
want_rc 0 "uipc help ipcrm"
case $out in *"uipc ipcrm"*) ;; *) fail "help ipcrm: [$out]" ;; esac
case $out in *"uipc ipcs"*) fail "help ipcrm shows ipcs: [$out]" ;; esac
r "$U" ipcs --help
want_rc 0 "uipc ipcs --help"
case $out in *"--json"*) ;; *) fail "ipcs --help: [$out]" ;; esac
r "$U"
want_rc 1 "uipc"
want_out ""
[ -n "$err" ] || fail "uipc: no message"
r "$U" frobnicate
want_rc 1 "uipc frobnicate"
want_err "uipc: unknown command 'frobnicate'
Try 'uipc --help' for more information."
r "$U" ipcs -x
want_rc 1 "ipcs -x"
want_err "uipc ipcs: invalid option -- 'x'
Try 'uipc ipcs --help' for more information."
r "$U" ipcs -q -i
want_rc 1 "ipcs -i"
want_err "uipc ipcs: option requires an argument -- 'i'
Try 'uipc ipcs --help' for more information."
r "$U" ipcs -q -i abc
want_rc 1 "ipcs -i abc"
want_err "uipc ipcs: failed to parse id argument: 'abc'"
r "$U" ipcmk
want_rc 1 "ipcmk"
want_err "uipc ipcmk: bad usage
Try 'uipc ipcmk --help' for more information."
r "$U" ipcmk -Q -p 9
want_rc 1 "ipcmk -p 9"
want_err "uipc ipcmk: failed to parse mode: '9'"
# util-linux's ipcrm without arguments does nothing, successfully.
r "$U" ipcrm
want_rc 0 "ipcrm"
want_out ""
want_err ""
r "$U" ipcrm -a=bogus
want_rc 1 "ipcrm -a=bogus"
want_err "uipc ipcrm: unknown argument: =bogus"
end

# ---- ipcs on an empty root: the sections util-linux prints ----

begin ipcs_empty
clean
cat >"$T/want" <<'EOF'

------ Message Queues --------
key        msqid      owner      perms      used-bytes   messages    

------ Shared Memory Segments --------
key        shmid      owner      perms      bytes      nattch     status      

------ Semaphore Arrays --------
key        semid      owner      perms      nsems     

EOF
r "$U" ipcs
want_rc 0 "ipcs"
want_file
r "$U" ipcs -a
want_file
r "$U" ipcs -q -m -s
want_file
printf '\n------ Message Queues --------\nkey        msqid      owner      perms      used-bytes   messages    \n\n' >"$T/want"
r "$U" ipcs -q
want_file
cat >"$T/want" <<'EOF'

------ Shared Memory Creator/Last-op PIDs --------
shmid      owner      cpid       lpid      


EOF
r "$U" ipcs -m -s -p
want_rc 0 "ipcs -m -s -p"
want_file
cat >"$T/want" <<'EOF'

------ Shared Memory Status --------
segments allocated 0
pages allocated 0
pages resident  0
pages swapped   0
Swap performance: 0 attempts	 0 successes

------ Semaphore Status --------
used arrays = 0
allocated semaphores = 0

EOF
r "$U" ipcs -m -s -u
want_file
r "$U" ipcs -m -i 0
want_rc 0 "ipcs -m -i 0"
want_out ""
want_err "uipc ipcs: id 0 not found"
r "$U" ipcs -i 0
want_rc 1 "ipcs -i 0"
want_err "uipc ipcs: when using an ID, a single resource must be specified"
end

# ---- ipcmk and the ipcs rows, -i, -c, -p, -t ----

begin ipcmk_ipcs
clean
id1=$(mkq -p 0640) || fail "ipcmk -Q -p 0640 failed"
id2=$(mkq) || fail "ipcmk -Q failed"
r "$U" ipcmk --queue --mode=600
want_rc 0 "ipcmk --queue --mode=600"
case $out in "Message queue id: "[0-9]*) id3=${out#Message queue id: } ;; *) fail "ipcmk: [$out]"; id3=x ;; esac
k1=$(key_of "$id1") k2=$(key_of "$id2") k3=$(key_of "$id3")
for k in "$k1" "$k2" "$k3"; do
	case $k in 0x00000000) fail "key IPC_PRIVATE" ;; 0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) fail "key [$k]" ;; esac
done
[ "$k1" != "$k2" ] || fail "same key twice: $k1"
[ "$id1" != "$id2" ] || fail "same id twice: $id1"
{ printf '\n------ Message Queues --------\nkey        msqid      owner      perms      used-bytes   messages    \n'
  # in slot order (id % 32768), as MSG_STAT_ANY walks them
  printf '%s %s %s %s\n' $((id1 % 32768)) "$id1" "$k1" 640 $((id2 % 32768)) "$id2" "$k2" 644 \
	$((id3 % 32768)) "$id3" "$k3" 600 | sort -n | while read -r _ i k m; do row "$k" "$i" "$me" "$m" 0 0; done
  echo; } >"$T/want"
r "$U" ipcs -q
want_file
r "$U" ipcs -q -i "$id1"
want_rc 0 "ipcs -q -i"
uid=$(id -u) gid=$(id -g)
sed -n 2,4p "$T/out" >"$T/o2"
printf 'Message Queue msqid=%s\nuid=%s\tgid=%s\tcuid=%s\tcgid=%s\tmode=0640\ncbytes=0\tqbytes=%s\tqnum=0\tlspid=0\tlrpid=0\n' \
	"$id1" "$uid" "$gid" "$uid" "$gid" "$(sed -n 's/.*qbytes=\([0-9]*\).*/\1/p' "$T/out")" >"$T/want"
cmp -s "$T/want" "$T/o2" || fail "ipcs -i: $(diff "$T/want" "$T/o2")"
grep -q "qbytes=[1-9]" "$T/out" || fail "qbytes: [$out]"
want_line "send_time=Not set                   "
want_line "rcv_time=Not set                   "
grep -q '^change_time=[A-Z][a-z][a-z] [A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [0-9]\{4\}  $' "$T/out" ||
	fail "change_time: [$out]"
r "$U" ipcs -q -i 123456789
want_rc 0 "ipcs -q -i 123456789"
want_err "uipc ipcs: id 123456789 not found"
want_out ""
r "$U" ipcs -q -c
want_line "------ Message Queues Creators/Owners --------"
want_line "msqid      perms      cuid       cgid       uid        gid       "
want_line "$(printf '%-10s %-10s %-10s %-10s %-10s %-10s' "$id1" 640 "$me" "$grp" "$me" "$grp")"
r "$U" ipcs -q -p
want_line "------ Message Queues PIDs --------"
want_line "msqid      owner      lspid      lrpid     "
want_line "$(printf '%-8s %-10.10s  %5d     %5d' "$id2" "$me" 0 0)"
r "$U" ipcs -q -t
want_line "------ Message Queues Send/Recv/Change Times --------"
want_line "msqid    owner      send                 recv                 change              "
grep -q "^$(printf '%-8s %-10.10s' "$id3" "$me") Not set              Not set              [A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]     \$" "$T/out" ||
	fail "ipcs -t row: [$out]"
end

# ---- messages: used-bytes, messages, pids, times, -u, --human ----

if [ -n "$PY" ]; then
	begin ipcs_messages
	clean
	id=$(mkq -p 0600) || fail "ipcmk"
	k=$(key_of "$id")
	spid=$(q send "$id" 100 2) || fail "send"
	spid=$(q send "$id" 28) || fail "send"
	r "$U" ipcs -q
	want_line "$(row "$k" "$id" "$me" 600 228 3)"
	rpid=$(q recv "$id") || fail "recv"
	r "$U" ipcs -q
	want_line "$(row "$k" "$id" "$me" 600 128 2)"
	r "$U" ipcs -q -p
	want_line "$(printf '%-8s %-10.10s  %5d     %5d' "$id" "$me" "$spid" "$rpid")"
	r "$U" ipcs -q -i "$id"
	grep -q "^cbytes=128	qbytes=[0-9]*	qnum=2	lspid=$spid	lrpid=$rpid\$" "$T/out" || fail "ipcs -i: [$out]"
	grep -q '^send_time=[A-Z][a-z][a-z] ' "$T/out" || fail "send_time: [$out]"
	grep -q '^rcv_time=[A-Z][a-z][a-z] ' "$T/out" || fail "rcv_time: [$out]"
	r "$U" ipcs -q -t
	grep -q "^$(printf '%-8s %-10.10s' "$id" "$me")\( [A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]     \)\{3\}\$" "$T/out" ||
		fail "ipcs -t: [$out]"
	id2=$(mkq) || fail "ipcmk"
	k2=$(key_of "$id2")
	q send "$id2" 1536 >/dev/null || fail "send"
	r "$U" ipcs -q -u
	printf '\n------ Messages Status --------\nallocated queues = 2\nused headers = 3\nused space = 1664 bytes\n\n' >"$T/want"
	want_file
	r "$U" ipcs -q -u -b
	want_line "used space (bytes) = 1664"
	r "$U" ipcs -q -u --human
	want_line "used space = 1.6K"
	r "$U" ipcs -q --human
	want_line "key        msqid      owner      perms      size         messages    "
	want_line "$(printf '%s %-10s %-10.10s %-10s %6s       %-12s' "$k" "$id" "$me" 600 128B 2)"
	want_line "$(printf '%s %-10s %-10.10s %-10s %6s       %-12s' "$k2" "$id2" "$me" 644 1.5K 1)"
	r "$U" ipcs -q -i "$id2" --human
	grep -q '^csize=1.5K	qsize=[0-9.]*[BKMGTPE]	qnum=1	' "$T/out" || fail "ipcs -i --human: [$out]"
	end
else
	skip ipcs_messages "no python3"
fi

# ---- owner and creator differ ----

if [ -n "$PY" ]; then
	begin ipcs_owner
	clean
	id=$(mkq -p 0600) || fail "ipcmk"
	k=$(key_of "$id")
	q chown "$id" 1 2 >/dev/null || fail "IPC_SET"
	u1=$("$PY" -c 'import pwd; print(pwd.getpwuid(1).pw_name)' 2>/dev/null || echo 1)
	g2=$("$PY" -c 'import grp; print(grp.getgrgid(2).gr_name)' 2>/dev/null || echo 2)
	r "$U" ipcs -q
	want_line "$(row "$k" "$id" "$u1" 600 0 0)"
	r "$U" ipcs -q -c
	want_line "$(printf '%-10s %-10s %-10s %-10s %-10s %-10s' "$id" 600 "$me" "$grp" "$u1" "$g2")"
	r "$U" ipcs -q -i "$id"
	want_line "$(printf 'uid=1\tgid=2\tcuid=%s\tcgid=%s\tmode=0600' "$(id -u)" "$(id -g)")"
	r "$U" ipcs -q --json
	"$PY" -c 'import json,sys; [m] = json.load(sys.stdin)["messages"]; assert (m["owner"], m["uid"], m["gid"]) == (sys.argv[1], 1, 2), m' \
		"$u1" <"$T/out" || fail "--json owner: [$out]"
	end
else
	skip ipcs_owner "no python3"
fi

# ---- another user: lists everything (MSG_STAT_ANY), removes nothing ----
# (nobody: uid and gid 65534, which own nothing here)

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && nobody "$U" help >/dev/null 2>&1; then
	begin other_user
	clean
	id=$(mkq -p 0600) || fail "ipcmk"
	k=$(key_of "$id")
	id2=$(mkq -p 0644) || fail "ipcmk"
	k2=$(key_of "$id2")
	r nobody "$U" ipcs -q
	want_rc 0 "ipcs -q as nobody"
	want_line "$(row "$k" "$id" "$me" 600 0 0)"
	want_line "$(row "$k2" "$id2" "$me" 644 0 0)"
	r nobody "$U" ipcs -q -i "$id"
	want_rc 0 "ipcs -q -i as nobody"
	want_err ""
	want_line "$(printf 'uid=%s\tgid=%s\tcuid=%s\tcgid=%s\tmode=0600' "$(id -u)" "$(id -g)" "$(id -u)" "$(id -g)")"
	# qbytes comes from IPC_STAT, which nobody may not do here.
	want_line "$(printf 'cbytes=0\tqbytes=0\tqnum=0\tlspid=0\tlrpid=0')"
	r nobody "$U" ipcs -q -i "$id2"
	grep -q '^cbytes=0	qbytes=[1-9][0-9]*	' "$T/out" || fail "qbytes of a readable queue: [$out]"
	# ipcrm -a walks with MSG_STAT: the queue nobody cannot read is skipped.
	r nobody "$U" ipcrm -a
	want_rc 1 "ipcrm -a as nobody"
	want_err "uipc ipcrm: permission denied for id ($id2)"
	r nobody "$U" ipcrm -q "$id"
	want_rc 1 "ipcrm -q as nobody"
	want_err "uipc ipcrm: permission denied for id ($id)"
	r nobody "$U" ipcrm -Q "$k2"
	want_rc 1 "ipcrm -Q as nobody"
	want_err "uipc ipcrm: permission denied for key ($id2)"
	[ -n "$(key_of "$id")" ] && [ -n "$(key_of "$id2")" ] || fail "nobody removed a queue"
	r nobody "$U" limits set msgmax=100
	want_rc 1 "limits set as nobody"
	case $err in "uipc limits: cannot set msgmax=100 in $UIPC_ROOT: "*) ;; *) fail "limits set as nobody: [$err]" ;; esac
	clean
	end
else
	skip other_user "not root, or no setpriv, or nobody cannot run $U"
fi

# ---- --json ----

if [ -n "$PY" ]; then
	begin json
	clean
	id=$(mkq -p 0640) || fail "ipcmk"
	k=$(key_of "$id")
	spid=$(q send "$id" 10 3) || fail "send"
	r "$U" ipcs --json
	want_rc 0 "ipcs --json"
	"$PY" - "$T/out" "$id" "$k" "$me" "$spid" <<'EOF' || fail "ipcs --json: [$out]"
import json, sys
d = json.load(open(sys.argv[1]))
_, id, key, me, spid = sys.argv[1:]
assert set(d) == {"messages", "shared-memory", "semaphores"}, d
assert d["shared-memory"] == [] and d["semaphores"] == [], d
[m] = d["messages"]
want = {"key": key, "id": int(id), "owner": me, "perms": "640", "used-bytes": 30,
        "messages": 3, "lspid": int(spid), "lrpid": 0, "recv-time": None}
for k, v in want.items():
    assert m[k] == v, (k, m[k], v)
assert isinstance(m["send-time"], int) and isinstance(m["change-time"], int), m
assert isinstance(m["qbytes"], int) and m["qbytes"] > 0, m
EOF
	r "$U" ipcs -q -i "$id" --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert [m["id"] for m in d["messages"]] == [int(sys.argv[1])]' \
		"$id" <"$T/out" || fail "ipcs -i --json: [$out]"
	r "$U" ipcs -l --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert sorted(d["message-limits"]) == ["msgmax","msgmnb","msgmni"]' \
		<"$T/out" || fail "ipcs -l --json: [$out]"
	r "$U" ipcs -u -q --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d == {"message-status": {"queues": 1, "headers": 3, "bytes": 30}}, d' \
		<"$T/out" || fail "ipcs -u --json: [$out]"
	clean
	r "$U" ipcs -q --json
	"$PY" -c 'import json,sys; assert json.load(sys.stdin) == {"messages": []}' <"$T/out" || fail "empty --json: [$out]"
	end
else
	skip json "no python3"
fi

# ---- ipcrm ----

begin ipcrm
clean
a=$(mkq) b=$(mkq) c=$(mkq) d=$(mkq) || fail "ipcmk"
kb=$(key_of "$b")
r "$U" ipcrm -q "$a"
want_rc 0 "ipcrm -q"
want_out ""
want_err ""
[ -z "$(key_of "$a")" ] || fail "queue $a still listed"
r "$U" ipcrm -q "$a"
want_rc 1 "ipcrm -q removed id"
want_err "uipc ipcrm: invalid id ($a)"
r "$U" ipcrm -Q "$kb"
want_rc 0 "ipcrm -Q"
[ -z "$(key_of "$b")" ] || fail "queue $b still listed"
r "$U" ipcrm -Q "$kb"
want_rc 1 "ipcrm -Q removed key"
want_err "uipc ipcrm: invalid key ($kb)"
r "$U" ipcrm -Q 0
want_rc 1 "ipcrm -Q 0"
want_err "uipc ipcrm: illegal key (0)"
r "$U" ipcrm -q abc
want_rc 1 "ipcrm -q abc"
want_err "uipc ipcrm: failed to parse argument: 'abc'"
r "$U" ipcrm -q 99999999999
want_rc 1 "ipcrm -q 99999999999"
want_err "uipc ipcrm: failed to parse argument: '99999999999': Numerical result out of range"
# One good, one bad: the good one goes, the status is 1.
r "$U" ipcrm -q 2147483647 -v -q "$c"
want_rc 1 "ipcrm -q bad -q good"
want_err "uipc ipcrm: invalid id (2147483647)"
want_out "removing message queue id \`$c'"
[ -z "$(key_of "$c")" ] || fail "queue $c still listed"
r "$U" ipcrm msg "$d"
want_rc 0 "ipcrm msg id"
want_out "resource(s) deleted"
r "$U" ipcrm msg "$d" x
want_rc 1 "ipcrm msg bad ids"
want_err "uipc ipcrm: invalid id ($d)
uipc ipcrm: invalid id: x"
r "$U" ipcrm -m 0 -s 0 -M 0x1234 -S 0x1234
want_rc 1 "ipcrm shm/sem"
want_err "uipc ipcrm: invalid id (0)
uipc ipcrm: invalid id (0)
uipc ipcrm: invalid key (0x1234)
uipc ipcrm: invalid key (0x1234)"
e=$(mkq) f=$(mkq) || fail "ipcmk"
r "$U" ipcrm -a
want_rc 0 "ipcrm -a"
want_out ""
want_err ""
r "$U" ipcs -q
[ "$(grep -c '^0x' "$T/out")" = 0 ] || fail "ipcrm -a left [$out]"
e=$(mkq) f=$(mkq) || fail "ipcmk"
r "$U" ipcrm --all=sem
[ -n "$(key_of "$e")" ] || fail "ipcrm --all=sem removed a queue"
r "$U" ipcrm --all=msg -q 2147483647
want_rc 1 "ipcrm --all=msg -q bad"
want_err "uipc ipcrm: invalid id (2147483647)"
[ -z "$(key_of "$e")$(key_of "$f")" ] || fail "ipcrm --all=msg left $e or $f"
r "$U" ipcrm -a extra
want_rc 1 "ipcrm -a extra"
want_err "uipc ipcrm: unknown argument: extra
Try 'uipc ipcrm --help' for more information."
end

# ---- limits ----

begin limits
clean
r "$U" limits
want_rc 0 "limits"
want_line "root: $UIPC_ROOT"
want_line "NAME            VALUE  SOURCE  DESCRIPTION"
for n in msgmax msgmnb msgmni semmsl semmns semopm semmni semvmx shmmax shmall shmmni shmmin; do
	grep -q "^$n  *[0-9][0-9]*  kernel  " "$T/out" || fail "$n not from the kernel: [$out]"
done
[ "$(grep -c '^[a-z]' "$T/out")" = 13 ] || fail "limits: [$out]"
for n in msgmax shmmax shmall shmmni; do	# shmmax and shmall: unsigned longs
	[ -r /proc/sys/kernel/$n ] || continue
	grep -q "^$n  *$(cat /proc/sys/kernel/$n)  kernel" "$T/out" || fail "$n != kernel's: [$out]"
done
want_line "$(printf '%-8s %12s  %-6s  %s' shmmin 1 kernel 'min seg size (bytes)')"
r "$U" limits set msgmax=4096 msgmnb=2048 msgmni=3
want_rc 0 "limits set"
want_out ""
want_err ""
r "$U" limits
want_line "$(printf '%-8s %12s  %-6s  %s' msgmax 4096 set 'max size of message (bytes)')"
want_line "$(printf '%-8s %12s  %-6s  %s' msgmnb 2048 set 'default max size of queue (bytes)')"
want_line "$(printf '%-8s %12s  %-6s  %s' msgmni 3 set 'max queues system wide')"
r "$U" ipcs -l -q
printf '\n------ Messages Limits --------\nmax queues system wide = 3\nmax size of message (bytes) = 4096\ndefault max size of queue (bytes) = 2048\n\n' >"$T/want"
want_file
r "$U" ipcs -l
want_line "max size of message (bytes) = 4096"
want_line "------ Shared Memory Limits --------"
want_line "------ Semaphore Limits --------"
r "$U" ipcs -l --human -q
want_line "max size of message = 4K"
want_line "default max size of queue = 2K"
# The limits apply: new queues get msgmnb, msgmni caps the count.
id=$(mkq) || fail "ipcmk"
r "$U" ipcs -q -i "$id"
grep -q '^cbytes=0	qbytes=2048	' "$T/out" || fail "qbytes of a new queue: [$out]"
mkq >/dev/null || fail "ipcmk 2"
mkq >/dev/null || fail "ipcmk 3"
r "$U" ipcmk -Q
want_rc 1 "ipcmk beyond msgmni"
want_err "uipc ipcmk: create message queue failed: No space left on device"
clean
r "$U" limits set msgmax=default msgmnb=kernel
want_rc 0 "limits set default"
r "$U" limits
grep -q '^msgmax  *[0-9][0-9]*  kernel  ' "$T/out" || fail "msgmax not unset: [$out]"
grep -q '^msgmnb  *[0-9][0-9]*  kernel  ' "$T/out" || fail "msgmnb not unset: [$out]"
want_line "$(printf '%-8s %12s  %-6s  %s' msgmni 3 set 'max queues system wide')"
r "$U" limits set msgmni=kernel
r "$U" limits set msgfoo=1
want_rc 1 "limits set msgfoo=1"
want_err "uipc limits: unknown limit 'msgfoo'
Try 'uipc limits --help' for more information."
r "$U" limits set msgmax=12ab
want_rc 1 "limits set msgmax=12ab"
want_err "uipc limits: invalid value for msgmax: '12ab'
Try 'uipc limits --help' for more information."
r "$U" limits set msgmax
want_rc 1 "limits set msgmax"
r "$U" limits get
want_rc 1 "limits get"
end

# ---- semaphore sets ----

# mks [ipcmk options]: create a semaphore set, print its id.
mks() {
	o=$("$U" ipcmk "$@") || return 1
	case $o in
	"Semaphore id: "*) echo "${o#Semaphore id: }" ;;
	*) return 1 ;;
	esac
}
# skey_of ID: the key column of the set's ipcs -s row.
skey_of() { "$U" ipcs -s | awk -v id="$1" '$2 == id { print $1 }'; }
# srow KEY ID OWNER PERMS NSEMS: an ipcs -s row as util-linux prints it.
srow() { printf '%s %-10s %-10.10s %-10s %-10s\n' "$@"; }
# semrow NUM VALUE NCOUNT ZCOUNT PID: a line of ipcs -s -i's table.
semrow() { printf '%-10s %-10s %-10s %-10s %-10s\n' "$@"; }
# by_slot ID...: the ids in slot order (id % 32768), as SEM_STAT_ANY walks them.
by_slot() { for i in "$@"; do echo "$((i % 32768)) $i"; done | sort -n | cut -d' ' -f2; }
TIME24='[A-Z][a-z][a-z] [A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [0-9]\{4\}'

# s OP ID ARGS: semctl/semop through libuipc.so, as q does for queues.
#   s set ID NUM VALUE (prints the pid)   s op ID NUM OP [NUM OP]... (prints
#   the pid first, then blocks if it must; at most 30 s)   s own ID UID GID MODE
cat >"$T/s.py" <<'EOF'
import ctypes, os, signal, sys
c = ctypes.CDLL(sys.argv[1], use_errno=True)
op, a = sys.argv[2], [int(x, 0) for x in sys.argv[3:]]
class sembuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
def die(what):
    sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))
signal.alarm(30)
print(os.getpid(), flush=True)
if op == "set":
    if c.uipc_semctl(a[0], a[1], 16, ctypes.c_int(a[2])) != 0:
        die("SETVAL")
elif op == "op":
    n = (len(a) - 1) // 2
    sops = (sembuf * n)(*[sembuf(a[1 + 2 * k], a[2 + 2 * k], 0) for k in range(n)])
    if c.uipc_semop(a[0], sops, ctypes.c_size_t(n)) != 0:
        die("semop")
elif op == "own":
    # struct ipc_perm: key, uid, gid, cuid, cgid, then mode at 20 in glibc's ABI.
    ds = ctypes.create_string_buffer(512)
    if c.uipc_semctl(a[0], 0, 2, ds) != 0:
        die("IPC_STAT")
    ctypes.c_uint.from_buffer(ds, 4).value = a[1]
    ctypes.c_uint.from_buffer(ds, 8).value = a[2]
    ctypes.c_ushort.from_buffer(ds, 20).value = a[3]
    if c.uipc_semctl(a[0], 0, 1, ds) != 0:
        die("IPC_SET")
EOF
s() { san "$PY" "$T/s.py" "$B/libuipc.so" "$@"; }

begin sem_ipcmk_ipcs
clean
s1=$(mks -S 3 -p 0640) || fail "ipcmk -S 3 -p 0640"
s2=$(mks --semaphore=1) || fail "ipcmk --semaphore=1"
r "$U" ipcmk --semaphore 2 --mode=600 -Q
want_rc 0 "ipcmk -S 2 -Q"
case $out in
"Message queue id: "[0-9]*"
Semaphore id: "[0-9]*) s3=${out##*: } ;;
*) fail "ipcmk -S -Q: [$out]"; s3=x ;;
esac
k1=$(skey_of "$s1") k2=$(skey_of "$s2") k3=$(skey_of "$s3")
for k in "$k1" "$k2" "$k3"; do
	case $k in 0x00000000) fail "key IPC_PRIVATE" ;; 0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) fail "key [$k]" ;; esac
done
[ "$k1" != "$k2" ] && [ "$k2" != "$k3" ] || fail "same key twice: $k1 $k2 $k3"
{ printf '\n------ Semaphore Arrays --------\nkey        semid      owner      perms      nsems     \n'
  for i in $(by_slot "$s1" "$s2" "$s3"); do
	case $i in
	"$s1") srow "$k1" "$i" "$me" 640 3 ;;
	"$s2") srow "$k2" "$i" "$me" 644 1 ;;
	*) srow "$k3" "$i" "$me" 600 2 ;;
	esac
  done
  echo; } >"$T/want"
r "$U" ipcs -s
want_rc 0 "ipcs -s"
want_file
r "$U" ipcs -s --human	# no sizes in this section
want_file
r "$U" ipcs -s -b
want_file
r "$U" ipcs
want_line "$(srow "$k2" "$s2" "$me" 644 1)"
r "$U" ipcs -s -c
want_line "------ Semaphore Arrays Creators/Owners --------"
want_line "semid      perms      cuid       cgid       uid        gid       "
want_line "$(printf '%-10s %-10s %-10s %-10s %-10s %-10s' "$s1" 640 "$me" "$grp" "$me" "$grp")"
r "$U" ipcs -s -t
want_line "------ Semaphore Operation/Change Times --------"
want_line "semid    owner      last-op                    last-changed              "
grep -q "^$(printf '%-8s %-10.10s' "$s3" "$me")  Not set                    $TIME24  \$" "$T/out" ||
	fail "ipcs -s -t row: [$out]"
printf '\n\n' >"$T/want"	# util-linux prints nothing for -s -p
r "$U" ipcs -s -p
want_file
printf '\n------ Semaphore Status --------\nused arrays = 3\nallocated semaphores = 6\n\n' >"$T/want"
r "$U" ipcs -s -u
want_file
r "$U" ipcs -s -i "$s1"
want_rc 0 "ipcs -s -i"
uid=$(id -u) gid=$(id -g)
{ printf '\nSemaphore Array semid=%s\nuid=%s\t gid=%s\t cuid=%s\t cgid=%s\n' "$s1" "$uid" "$gid" "$uid" "$gid"
  printf 'mode=0640, access_perms=0640\nnsems = 3\notime = Not set                   \n'
  sed -n 7p "$T/out"
  semrow semnum value ncount zcount pid
  for i in 0 1 2; do semrow $i 0 0 0 0; done
  echo; } >"$T/want"
want_file
sed -n 7p "$T/out" | grep -q "^ctime = $TIME24  \$" || fail "ctime line: [$out]"
r "$U" ipcs -s -i 123456789
want_rc 0 "ipcs -s -i 123456789"
want_out ""
want_err "uipc ipcs: id 123456789 not found"
r "$U" ipcs -s -i "$((s1 + 32768))"	# the slot, not the id
want_err "uipc ipcs: id $((s1 + 32768)) not found"
r "$U" ipcmk -S 0
want_rc 1 "ipcmk -S 0"
want_err "uipc ipcmk: create semaphore failed: Invalid argument"
r "$U" ipcmk -S -1
want_err "uipc ipcmk: create semaphore failed: Invalid argument"
r "$U" ipcmk -S abc
want_rc 1 "ipcmk -S abc"
want_err "uipc ipcmk: failed to parse elements: 'abc'"
r "$U" ipcmk -S 99999999999
want_err "uipc ipcmk: failed to parse elements: '99999999999': Numerical result out of range"
r "$U" ipcmk -S
want_rc 1 "ipcmk -S"
want_err "uipc ipcmk: option requires an argument -- 'S'
Try 'uipc ipcmk --help' for more information."
r "$U" ipcs -s
[ "$(grep -c '^0x' "$T/out")" = 3 ] || fail "failed ipcmk -S made a set: [$out]"
end

# ---- semaphore values, waiters and pids: ipcs -s -i, -t, --json ----

# wait_sem ID LINE: until "ipcs -s -i ID" shows LINE (waiters take a moment
# to queue); at most 20 s.
wait_sem() {
	n=0
	until "$U" ipcs -s -i "$1" | grep -qxF -- "$2"; do
		n=$((n + 1))
		[ $n -lt 400 ] || { fail "no line [$2] in ipcs -s -i $1"; return 1; }
		sleep 0.05
	done
}
if [ -n "$PY" ]; then
	begin sem_values
	clean
	id=$(mks -S 3 -p 0600) || fail "ipcmk"
	spid=$(s set "$id" 1 7) || fail "SETVAL"
	opid=$(s op "$id" 0 2 2 1) || fail "semop"
	r "$U" ipcs -s -i "$id"
	want_line "$(semrow 0 2 0 0 "$opid")"
	want_line "$(semrow 1 7 0 0 "$spid")"
	want_line "$(semrow 2 1 0 0 "$opid")"
	grep -q "^otime = $TIME24  \$" "$T/out" || fail "otime: [$out]"
	r "$U" ipcs -s -t
	grep -q "^$(printf '%-8s %-10.10s' "$id" "$me")  $TIME24   $TIME24  \$" "$T/out" ||
		fail "ipcs -s -t: [$out]"
	# Two waiters: a decrement by 3 on semaphore 0, a wait for zero on 1.
	s op "$id" 0 -3 >"$T/w1" 2>"$T/w1.err" &
	w1=$!
	s op "$id" 1 0 >"$T/w2" 2>"$T/w2.err" &
	w2=$!
	wait_sem "$id" "$(semrow 0 2 1 0 "$opid")"
	wait_sem "$id" "$(semrow 1 7 0 1 "$spid")"
	r "$U" ipcs -s -i "$id" --json
	"$PY" - "$T/out" "$id" "$me" "$opid" "$spid" <<'EOF' || fail "ipcs -s -i --json: [$out]"
import json, sys
d = json.load(open(sys.argv[1]))
_, id, me, opid, spid = sys.argv[1:]
[s] = d["semaphores"]
assert set(d) == {"semaphores"}, d
want = {"id": int(id), "owner": me, "perms": "600", "nsems": 3}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
assert isinstance(s["op-time"], int) and isinstance(s["change-time"], int), s
assert s["elements"] == [
    {"semnum": 0, "value": 2, "ncount": 1, "zcount": 0, "pid": int(opid)},
    {"semnum": 1, "value": 7, "ncount": 0, "zcount": 1, "pid": int(spid)},
    {"semnum": 2, "value": 1, "ncount": 0, "zcount": 0, "pid": int(opid)}], s
EOF
	r "$U" ipcs --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); [s] = d["semaphores"]; assert "elements" not in s and s["id"] == int(sys.argv[1]), d' \
		"$id" <"$T/out" || fail "ipcs --json: [$out]"
	# The decrement goes through once semaphore 0 reaches 3: its pid is the waiter's.
	o2=$(s op "$id" 0 1) || fail "semop"
	wait_sem "$id" "$(semrow 0 0 0 0 "$(head -n 1 "$T/w1")")"
	wait "$w1" || fail "waiter 1 failed: $(cat "$T/w1.err")"
	# Removing the set wakes the other with EIDRM.
	r "$U" ipcrm -s "$id"
	want_rc 0 "ipcrm -s with a waiter"
	wait "$w2" && fail "waiter 2 succeeded"
	[ "$(cat "$T/w2.err")" = "semop: Identifier removed" ] || fail "waiter 2: $(cat "$T/w2.err")"
	end
else
	skip sem_values "no python3"
fi

# ---- ipcrm of semaphore sets ----

begin sem_ipcrm
clean
a=$(mks -S 1) b=$(mks -S 2) c=$(mks -S 1) d=$(mks -S 1) || fail "ipcmk"
kb=$(skey_of "$b")
r "$U" ipcrm -s "$a"
want_rc 0 "ipcrm -s"
want_out ""
want_err ""
[ -z "$(skey_of "$a")" ] || fail "set $a still listed"
r "$U" ipcrm -s "$a"
want_rc 1 "ipcrm -s removed id"
want_err "uipc ipcrm: invalid id ($a)"
r "$U" ipcrm --semaphore-key="$kb"
want_rc 0 "ipcrm -S"
[ -z "$(skey_of "$b")" ] || fail "set $b still listed"
r "$U" ipcrm -S "$kb"
want_rc 1 "ipcrm -S removed key"
want_err "uipc ipcrm: invalid key ($kb)"
r "$U" ipcrm -S 0
want_err "uipc ipcrm: illegal key (0)"
r "$U" ipcrm sem "$c"
want_rc 0 "ipcrm sem id"
want_out "resource(s) deleted"
r "$U" ipcrm sem "$c" "$d"
want_rc 1 "ipcrm sem removed id"
want_err "uipc ipcrm: invalid id ($c)"
[ -z "$(skey_of "$d")" ] || fail "ipcrm sem left $d"
# -a: semaphore sets first, then queues, each in slot order.
e=$(mks -S 1) f=$(mks -S 3) q=$(mkq) || fail "ipcmk"
r "$U" ipcrm -v --all=sem
want_rc 0 "ipcrm --all=sem"
want_out "$(for i in $(by_slot "$e" "$f"); do echo "removing semaphore id \`$i'"; done)"
[ -n "$(key_of "$q")" ] || fail "ipcrm --all=sem removed a queue"
g=$(mks -S 1) || fail "ipcmk"
r "$U" ipcrm --all=msg
want_rc 0 "ipcrm --all=msg"
[ -z "$(key_of "$q")" ] || fail "ipcrm --all=msg left the queue"
[ -n "$(skey_of "$g")" ] || fail "ipcrm --all=msg removed a set"
q=$(mkq) || fail "ipcmk"
r "$U" ipcrm -a -v
want_rc 0 "ipcrm -a"
want_out "removing semaphore id \`$g'
removing message queue id \`$q'"
r "$U" ipcs -s
[ "$(grep -c '^0x' "$T/out")" = 0 ] || fail "ipcrm -a left [$out]"
end

# ---- another user and semaphore sets ----

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && nobody "$U" help >/dev/null 2>&1; then
	begin sem_other_user
	clean
	a=$(mks -S 2 -p 0600) b=$(mks -S 1 -p 0604) || fail "ipcmk"
	ka=$(skey_of "$a") kb=$(skey_of "$b")
	r nobody "$U" ipcs -s
	want_line "$(srow "$ka" "$a" "$me" 600 2)"
	want_line "$(srow "$kb" "$b" "$me" 604 1)"
	# Listed, but its semaphores are not nobody's to read: nothing printed.
	r nobody "$U" ipcs -s -i "$a"
	want_rc 1 "ipcs -s -i as nobody"
	want_out ""
	want_err "uipc ipcs: semctl(GETVAL) failed: Permission denied"
	r nobody "$U" ipcs -s -i "$a" --json
	want_rc 1 "ipcs -s -i --json as nobody"
	want_out ""
	r nobody "$U" ipcs -s -i "$b"
	want_rc 0 "ipcs -s -i readable as nobody"
	want_line "$(semrow 0 0 0 0 0)"
	r nobody "$U" ipcrm -s "$a"
	want_rc 1 "ipcrm -s as nobody"
	want_err "uipc ipcrm: permission denied for id ($a)"
	# semget(key, 0, 0) asks for no permission: the removal is refused.
	r nobody "$U" ipcrm -S "$ka"
	want_rc 1 "ipcrm -S as nobody"
	want_err "uipc ipcrm: permission denied for key ($a)"
	# ipcrm -a walks with SEM_STAT: the set nobody cannot read is skipped.
	r nobody "$U" ipcrm -a
	want_rc 1 "ipcrm -a as nobody"
	want_err "uipc ipcrm: permission denied for id ($b)"
	[ -n "$(skey_of "$a")" ] && [ -n "$(skey_of "$b")" ] || fail "nobody removed a set"
	if [ -n "$PY" ]; then
		s own "$b" 1 2 0o600 >/dev/null || fail "IPC_SET"
		u1=$("$PY" -c 'import pwd; print(pwd.getpwuid(1).pw_name)' 2>/dev/null || echo 1)
		g2=$("$PY" -c 'import grp; print(grp.getgrgid(2).gr_name)' 2>/dev/null || echo 2)
		r "$U" ipcs -s
		want_line "$(srow "$kb" "$b" "$u1" 600 1)"
		r "$U" ipcs -s -c
		want_line "$(printf '%-10s %-10s %-10s %-10s %-10s %-10s' "$b" 600 "$me" "$grp" "$u1" "$g2")"
		r "$U" ipcs -s -i "$b"
		want_line "$(printf 'uid=1\t gid=2\t cuid=%s\t cgid=%s' "$(id -u)" "$(id -g)")"
	fi
	clean
	end
else
	skip sem_other_user "not root, or no setpriv, or nobody cannot run $U"
fi

# ---- semaphore limits ----

begin sem_limits
clean
r "$U" limits set semmsl=5 semmns=7 semopm=4 semmni=2
want_rc 0 "limits set"
r "$U" limits
want_line "$(printf '%-8s %12s  %-6s  %s' semmsl 5 set 'max semaphores per array')"
want_line "$(printf '%-8s %12s  %-6s  %s' semmns 7 set 'max semaphores system wide')"
want_line "$(printf '%-8s %12s  %-6s  %s' semopm 4 set 'max ops per semop call')"
want_line "$(printf '%-8s %12s  %-6s  %s' semmni 2 set 'max number of arrays')"
want_line "$(printf '%-8s %12s  %-6s  %s' semvmx 32767 kernel 'semaphore max value')"
printf '\n------ Semaphore Limits --------\nmax number of arrays = 2\nmax semaphores per array = 5\nmax semaphores system wide = 7\nmax ops per semop call = 4\nsemaphore max value = 32767\n\n' >"$T/want"
r "$U" ipcs -s -l
want_file
r "$U" ipcmk -S 6
want_rc 1 "ipcmk beyond semmsl"
want_err "uipc ipcmk: create semaphore failed: Invalid argument"
id=$(mks -S 5) || fail "ipcmk -S 5"
r "$U" ipcmk -S 3
want_rc 1 "ipcmk beyond semmns"
want_err "uipc ipcmk: create semaphore failed: No space left on device"
mks -S 2 >/dev/null || fail "ipcmk -S 2"
r "$U" ipcmk -S 1
want_err "uipc ipcmk: create semaphore failed: No space left on device"
printf '\n------ Semaphore Status --------\nused arrays = 2\nallocated semaphores = 7\n\n' >"$T/want"
r "$U" ipcs -s -u
want_file
if [ -n "$PY" ]; then
	r s op "$id" 0 1 1 1 2 1 3 1 4 1
	want_rc 1 "semop beyond semopm"
	want_err "semop: Argument list too long"
	r "$U" ipcs -s -l --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d == {"semaphores-limits": {"semmni": 2, "semmsl": 5, "semmns": 7, "semopm": 4, "semvmx": 32767}}, d' \
		<"$T/out" || fail "ipcs -s -l --json: [$out]"
	r "$U" ipcs -s -u --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d == {"semaphores-status": {"arrays": 2, "semaphores": 7}}, d' \
		<"$T/out" || fail "ipcs -s -u --json: [$out]"
fi
clean
r "$U" limits set semmsl=kernel semmns=default semopm=kernel semmni=kernel semvmx=100
want_rc 0 "limits set kernel"
r "$U" ipcs -s -l
want_line "semaphore max value = 100"
r "$U" limits set semvmx=kernel
r "$U" limits
[ "$(grep -c '^sem[a-z]*  *[0-9]*  kernel  ' "$T/out")" = 5 ] || fail "sem limits not unset: [$out]"
end

# ---- shared memory segments ----

# mkm [ipcmk options]: create a segment, print its id.
mkm() {
	o=$("$U" ipcmk "$@") || return 1
	case $o in
	"Shared memory id: "*) echo "${o#Shared memory id: }" ;;
	*) return 1 ;;
	esac
}
# mkey_of ID: the key column of the segment's ipcs -m row.
mkey_of() { "$U" ipcs -m | awk -v id="$1" '$2 == id { print $1 }'; }
# mrow KEY ID OWNER PERMS BYTES NATTCH [DEST] [LOCKED]: an ipcs -m row as
# util-linux prints it; DEST "dest" and LOCKED "locked" fill the status.
mrow() { printf '%s %-10s %-10.10s %-10s %-10s %-10s %-6s %-6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:- }" "${8:- }"; }
# hrow: the same under --human (SIZE as 1.5K).
hrow() { printf '%s %-10s %-10.10s %-10s %6s     %-10s %-6s %-6s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:- }" "${8:- }"; }
MHEAD='key        shmid      owner      perms      bytes      nattch     status      '
TIME16='[A-Z][a-z][a-z] [ 0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]     '
NOTSET20='Not set             '

begin shm_ipcmk_ipcs
clean
m1=$(mkm -M 1.5K -p 0640) || fail "ipcmk -M 1.5K -p 0640"
m2=$(mkm --shmem=10KB) || fail "ipcmk --shmem=10KB"
r "$U" ipcmk -M 4097 --mode=600 -Q
want_rc 0 "ipcmk -M -Q"
case $out in
"Shared memory id: "[0-9]*"
Message queue id: "[0-9]*) m3=$(sed -n '1s/^Shared memory id: //p' "$T/out") ;;
*) fail "ipcmk -M -Q: [$out]"; m3=x ;;
esac
k1=$(mkey_of "$m1") k2=$(mkey_of "$m2") k3=$(mkey_of "$m3")
for k in "$k1" "$k2" "$k3"; do
	case $k in 0x00000000) fail "key IPC_PRIVATE" ;; 0x[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) fail "key [$k]" ;; esac
done
[ "$k1" != "$k2" ] && [ "$k2" != "$k3" ] || fail "same key twice: $k1 $k2 $k3"
{ printf '\n------ Shared Memory Segments --------\n%s\n' "$MHEAD"
  for i in $(by_slot "$m1" "$m2" "$m3"); do
	case $i in
	"$m1") mrow "$k1" "$i" "$me" 640 1536 0 ;;
	"$m2") mrow "$k2" "$i" "$me" 644 10000 0 ;;
	*) mrow "$k3" "$i" "$me" 600 4097 0 ;;
	esac
  done
  echo; } >"$T/want"
r "$U" ipcs -m
want_rc 0 "ipcs -m"
want_file
r "$U" ipcs -m -b
want_file
r "$U" ipcs
want_line "$(mrow "$k2" "$m2" "$me" 644 10000 0)"
r "$U" ipcs -m --human
want_line "key        shmid      owner      perms      size       nattch     status      "
want_line "$(hrow "$k1" "$m1" "$me" 640 1.5K 0)"
want_line "$(hrow "$k2" "$m2" "$me" 644 9.8K 0)"
want_line "$(hrow "$k3" "$m3" "$me" 600 4K 0)"
r "$U" ipcs -m -c
want_line "------ Shared Memory Segment Creators/Owners --------"
want_line "shmid      perms      cuid       cgid       uid        gid       "
want_line "$(printf '%-10s %-10s %-10s %-10s %-10s %-10s' "$m1" 640 "$me" "$grp" "$me" "$grp")"
r "$U" ipcs -m -t
want_line "------ Shared Memory Attach/Detach/Change Times --------"
want_line "shmid      owner      attached             detached             changed             "
grep -q "^$(printf '%-10s %-10.10s' "$m3" "$me") $NOTSET20 $NOTSET20 $TIME16\$" "$T/out" ||
	fail "ipcs -m -t row: [$out]"
# cpid: the ipcmk that made it; lpid: 0 until a shmat or shmdt.
r "$U" ipcs -m -i "$m1"
want_rc 0 "ipcs -m -i"
cpid=$(sed -n 's/^bytes=1536	lpid=0	cpid=\([1-9][0-9]*\)	nattch=0$/\1/p' "$T/out")
[ -n "$cpid" ] || fail "ipcs -m -i bytes line: [$out]"
uid=$(id -u) gid=$(id -g)
{ printf '\nShared memory Segment shmid=%s\nuid=%s\tgid=%s\tcuid=%s\tcgid=%s\n' "$m1" "$uid" "$gid" "$uid" "$gid"
  printf 'mode=0640\taccess_perms=0640\nbytes=1536\tlpid=0\tcpid=%s\tnattch=0\n' "$cpid"
  printf 'att_time=Not set                   \ndet_time=Not set                   \n'
  sed -n 8p "$T/out"
  echo; } >"$T/want"
want_file
sed -n 8p "$T/out" | grep -q "^change_time=$TIME24  \$" || fail "change_time line: [$out]"
r "$U" ipcs -m -i "$m1" --human
want_line "$(printf 'size=1.5K\tlpid=0\tcpid=%s\tnattch=0' "$cpid")"
r "$U" ipcs -m -i "$m1" -b
want_line "$(printf 'bytes=1536\tlpid=0\tcpid=%s\tnattch=0' "$cpid")"
r "$U" ipcs -m -p
want_line "------ Shared Memory Creator/Last-op PIDs --------"
want_line "shmid      owner      cpid       lpid      "
want_line "$(printf '%-10s %-10.10s %-10s %-10s' "$m1" "$me" "$cpid" 0)"
r "$U" ipcs -m -u
want_line "segments allocated 3"
want_line "pages allocated 6"
# Linux counts the pages touched (none here); uipc counts them all so far.
grep -q '^pages resident  [0-6]$' "$T/out" || fail "pages resident: [$out]"
want_line "pages swapped   0"
want_line "Swap performance: 0 attempts	 0 successes"
r "$U" ipcs -m -i 123456789
want_rc 0 "ipcs -m -i 123456789"
want_out ""
want_err "uipc ipcs: id 123456789 not found"
r "$U" ipcs -m -i "$((m1 + 32768))"	# the slot, not the id
want_err "uipc ipcs: id $((m1 + 32768)) not found"
if [ -n "$PY" ]; then
	r "$U" ipcs -m --json
	"$PY" - "$T/out" "$m1" "$k1" "$me" "$cpid" <<'EOF' || fail "ipcs -m --json: [$out]"
import json, sys
d = json.load(open(sys.argv[1]))
_, id, key, me, cpid = sys.argv[1:]
assert set(d) == {"shared-memory"}, d
[m] = [m for m in d["shared-memory"] if m["id"] == int(id)]
want = {"key": key, "owner": me, "perms": "640", "bytes": 1536, "nattch": 0, "dest": False,
        "locked": False, "cpid": int(cpid), "lpid": 0, "attach-time": None, "detach-time": None}
for k, v in want.items():
    assert m[k] == v, (k, m[k], v)
assert isinstance(m["change-time"], int), m
assert len(d["shared-memory"]) == 3, d
EOF
	r "$U" ipcs -m -u --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin)["shared-memory-status"]; assert (d["segments"], d["pages"], d["swapped"]) == (3, 6, 0), d' \
		<"$T/out" || fail "ipcs -m -u --json: [$out]"
fi
# Sizes as util-linux's strtosize() reads them, its rounding included.
for s in 1.10K:2048 1.25K:1279 1.05K:1075 0x10:16 010:8 1KiB:1024 2kb:2000 1.5MiB:1572864 \
	0.5M:524288 1.K:1024 +5:5 3m:3145728; do
	r "$U" ipcmk -M "${s%:*}"
	want_rc 0 "ipcmk -M ${s%:*}"
	i=${out#Shared memory id: }
	r "$U" ipcs -m -i "$i"
	grep -q "^bytes=${s#*:}	" "$T/out" || fail "ipcmk -M ${s%:*}: not ${s#*:} bytes: [$out]"
	"$U" ipcrm -m "$i"
done
r "$U" ipcmk -M 0
want_rc 1 "ipcmk -M 0"
want_err "uipc ipcmk: create share memory failed: Invalid argument"
for s in 1.5 abc -1 1X 1.5.5K '' 1B; do
	r "$U" ipcmk -M "$s"
	want_rc 1 "ipcmk -M '$s'"
	want_err "uipc ipcmk: failed to parse size: '$s': Invalid argument"
done
r "$U" ipcmk -M 16E
want_err "uipc ipcmk: failed to parse size: '16E': Numerical result out of range"
r "$U" ipcmk -M
want_rc 1 "ipcmk -M"
want_err "uipc ipcmk: option requires an argument -- 'M'
Try 'uipc ipcmk --help' for more information."
r "$U" ipcs -m
[ "$(grep -c '^0x' "$T/out")" = 3 ] || fail "failed ipcmk -M made a segment: [$out]"
# util-linux's order: the segment, the queue, the set.
r "$U" ipcmk -S 1 -Q -M 1
want_rc 0 "ipcmk -S -Q -M"
case $out in
"Shared memory id: "[0-9]*"
Message queue id: "[0-9]*"
Semaphore id: "[0-9]*) ;;
*) fail "ipcmk -S -Q -M: [$out]" ;;
esac
end

# m OP ID ARGS: shmget/shmat/shmdt/shmctl through libuipc.so, as q and s.
#   m get KEY SIZE FLAGS (prints the pid and the id)
#   m hold ID N [FORK] (N attachments, inherited by a child with FORK; prints
#     the pid, and the child's, then waits to be killed; at most 30 s)
#   m atdt ID (attach and detach; prints the pid)   m ctl ID CMD (no buffer)
cat >"$T/m.py" <<'EOF'
import ctypes, os, signal, sys
c = ctypes.CDLL(sys.argv[1], use_errno=True)
op, a = sys.argv[2], [int(x, 0) for x in sys.argv[3:]]
c.uipc_shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
c.uipc_shmat.restype = ctypes.c_void_p
c.uipc_shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
c.uipc_shmdt.argtypes = [ctypes.c_void_p]
c.uipc_shmctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
def die(what):
    sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))
def attach():
    p = c.uipc_shmat(a[0], None, 0)
    if p is None or p == 2**64 - 1:
        die("shmat")
    return p
signal.alarm(30)
if op == "get":
    i = c.uipc_shmget(a[0], a[1], a[2])
    if i < 0:
        die("shmget")
    print(os.getpid(), i)
elif op == "hold":
    for k in range(a[1]):
        attach()
    if len(a) > 2 and a[2]:
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        r, w = os.pipe()
        if os.fork() == 0:
            signal.alarm(30)
            os.write(w, b"%d\n" % os.getpid())
            signal.pause()
            os._exit(0)
        print(os.getpid(), os.read(r, 64).decode().strip(), flush=True)
    else:
        print(os.getpid(), flush=True)
    signal.pause()
elif op == "atdt":
    if c.uipc_shmdt(attach()) != 0:
        die("shmdt")
    print(os.getpid())
elif op == "ctl":
    if c.uipc_shmctl(a[0], a[1], None) != 0:
        die("shmctl")
EOF
m() { san "$PY" "$T/m.py" "$B/libuipc.so" "$@"; }
# wait_out FILE: until FILE is not empty; at most 20 s.
wait_out() {
	n=0
	until [ -s "$1" ]; do
		n=$((n + 1))
		[ $n -lt 400 ] || { fail "nothing in $1"; return 1; }
		sleep 0.05
	done
}
# gone PID: until the process (not our child) is gone; at most 20 s.
gone() {
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 400 ] || { fail "process $1 still there"; return 1; }
		sleep 0.05
	done
}
# mpid ID LPID: the segment's ipcs -m -p row, with the creator $cpid.
mpid() { printf '%-10s %-10.10s %-10s %-10s' "$1" "$me" "$cpid" "$2"; }

if [ -n "$PY" ]; then
	begin shm_attach
	clean
	o=$(m get 0x5e1234 8192 0o1600) || fail "shmget"
	cpid=${o% *} id=${o#* }
	r "$U" ipcs -m
	want_line "$(mrow 0x005e1234 "$id" "$me" 600 8192 0)"
	# Two attachments in one process, one in another inherited by its child.
	m hold "$id" 2 >"$T/h1" 2>"$T/h1.err" &
	j1=$!
	wait_out "$T/h1"
	m hold "$id" 1 1 >"$T/h2" 2>"$T/h2.err" &
	j2=$!
	wait_out "$T/h2"
	read -r h1 <"$T/h1"
	read -r h2 h2c <"$T/h2"
	r "$U" ipcs -m
	want_line "$(mrow 0x005e1234 "$id" "$me" 600 8192 4)"
	r "$U" ipcs -m -i "$id"
	grep -q "^bytes=8192	lpid=[0-9]*	cpid=$cpid	nattch=4\$" "$T/out" || fail "ipcs -m -i nattch: [$out]"
	apid=$(m atdt "$id") || fail "shmat+shmdt"
	r "$U" ipcs -m -p
	want_line "$(mpid "$id" "$apid")"
	r "$U" ipcs -m -i "$id"
	want_line "$(printf 'bytes=8192\tlpid=%s\tcpid=%s\tnattch=4' "$apid" "$cpid")"
	grep -q "^att_time=$TIME24  \$" "$T/out" || fail "att_time: [$out]"
	grep -q "^det_time=$TIME24  \$" "$T/out" || fail "det_time: [$out]"
	r "$U" ipcs -m -t
	grep -q "^$(printf '%-10s %-10.10s' "$id" "$me") $TIME16 $TIME16 $TIME16\$" "$T/out" ||
		fail "ipcs -m -t: [$out]"
	r "$U" ipcs -m -u
	want_line "segments allocated 1"
	want_line "pages allocated 2"
	# SHM_LOCK: "locked", and SHM_LOCKED (02000) in the mode.
	m ctl "$id" 11 || fail "SHM_LOCK"
	r "$U" ipcs -m
	want_line "$(mrow 0x005e1234 "$id" "$me" 600 8192 4 '' locked)"
	r "$U" ipcs -m -i "$id"
	want_line "$(printf 'mode=02600\taccess_perms=0600')"
	r "$U" ipcs -m --json
	"$PY" -c 'import json,sys; [m]=json.load(sys.stdin)["shared-memory"]; assert (m["nattch"], m["dest"], m["locked"], m["lpid"]) == (4, False, True, int(sys.argv[1])), m' \
		"$apid" <"$T/out" || fail "--json locked: [$out]"
	m ctl "$id" 12 || fail "SHM_UNLOCK"
	r "$U" ipcs -m
	want_line "$(mrow 0x005e1234 "$id" "$me" 600 8192 4)"
	# IPC_RMID while attached: "dest", SHM_DEST (01000), the key given up.
	m ctl "$id" 0 || fail "IPC_RMID"
	r "$U" ipcs -m
	want_line "$(mrow 0x00000000 "$id" "$me" 600 8192 4 dest)"
	r "$U" ipcs -m -i "$id"
	want_line "$(printf 'mode=01600\taccess_perms=0600')"
	r "$U" ipcrm -M 0x5e1234
	want_rc 1 "ipcrm -M of a removed key"
	want_err "uipc ipcrm: invalid key (0x5e1234)"
	# ipcrm -a removes it again, successfully, as util-linux on Linux.
	r "$U" ipcrm -a -v
	want_rc 0 "ipcrm -a with a removed segment"
	want_out "removing shared memory segment id \`$id'"
	want_err ""
	# Each death detaches, and makes the dead process the last one.
	kill "$h2c"
	gone "$h2c"
	r "$U" ipcs -m -p
	want_line "$(mpid "$id" "$h2c")"
	r "$U" ipcs -m
	want_line "$(mrow 0x00000000 "$id" "$me" 600 8192 3 dest)"
	kill "$h1"
	wait "$j1"
	r "$U" ipcs -m -i "$id"
	want_line "$(printf 'bytes=8192\tlpid=%s\tcpid=%s\tnattch=1' "$h1" "$cpid")"
	# The last detach frees it.
	kill "$h2"
	wait "$j2"
	r "$U" ipcs -m
	printf '\n------ Shared Memory Segments --------\n%s\n\n' "$MHEAD" >"$T/want"
	want_file
	r "$U" ipcs -m -u
	want_line "segments allocated 0"
	want_line "pages allocated 0"
	r "$U" ipcs -m -i "$id"
	want_err "uipc ipcs: id $id not found"
	end
else
	skip shm_attach "no python3"
fi

begin shm_ipcrm
clean
a=$(mkm -M 1) b=$(mkm -M 2) c=$(mkm -M 3) d=$(mkm -M 4) || fail "ipcmk"
kb=$(mkey_of "$b")
r "$U" ipcrm -m "$a"
want_rc 0 "ipcrm -m"
want_out ""
want_err ""
[ -z "$(mkey_of "$a")" ] || fail "segment $a still listed"
r "$U" ipcrm -m "$a"
want_rc 1 "ipcrm -m removed id"
want_err "uipc ipcrm: invalid id ($a)"
r "$U" ipcrm --shmem-key="$kb"
want_rc 0 "ipcrm -M"
[ -z "$(mkey_of "$b")" ] || fail "segment $b still listed"
r "$U" ipcrm -M "$kb"
want_rc 1 "ipcrm -M removed key"
want_err "uipc ipcrm: invalid key ($kb)"
r "$U" ipcrm -M 0
want_err "uipc ipcrm: illegal key (0)"
r "$U" ipcrm --shmem-id=-5
want_rc 1 "ipcrm --shmem-id=-5"
want_err "uipc ipcrm: invalid id (-5)"
r "$U" ipcrm shm "$c"
want_rc 0 "ipcrm shm id"
want_out "resource(s) deleted"
r "$U" ipcrm shm "$c" "$d"
want_rc 1 "ipcrm shm removed id"
want_err "uipc ipcrm: invalid id ($c)"
[ -z "$(mkey_of "$d")" ] || fail "ipcrm shm left $d"
# -a: segments first, then semaphore sets, then queues, each in slot order.
e=$(mkm -M 1) s1=$(mks -S 1) q=$(mkq) f=$(mkm -M 1) || fail "ipcmk"
r "$U" ipcrm -v --all=shm
want_rc 0 "ipcrm --all=shm"
want_out "$(for i in $(by_slot "$e" "$f"); do echo "removing shared memory segment id \`$i'"; done)"
[ -n "$(key_of "$q")" ] && [ -n "$(skey_of "$s1")" ] || fail "ipcrm --all=shm removed a queue or set"
g=$(mkm -M 1) || fail "ipcmk"
r "$U" ipcrm -a -v
want_rc 0 "ipcrm -a"
want_out "removing shared memory segment id \`$g'
removing semaphore id \`$s1'
removing message queue id \`$q'"
end

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && nobody "$U" help >/dev/null 2>&1; then
	begin shm_other_user
	clean
	a=$(mkm -M 100 -p 0600) b=$(mkm -M 1 -p 0604) || fail "ipcmk"
	ka=$(mkey_of "$a") kb=$(mkey_of "$b")
	r nobody "$U" ipcs -m
	want_line "$(mrow "$ka" "$a" "$me" 600 100 0)"
	want_line "$(mrow "$kb" "$b" "$me" 604 1 0)"
	r nobody "$U" ipcs -m -i "$a"
	want_rc 0 "ipcs -m -i as nobody"
	want_line "$(printf 'mode=0600\taccess_perms=0600')"
	r nobody "$U" ipcrm -m "$a"
	want_rc 1 "ipcrm -m as nobody"
	want_err "uipc ipcrm: permission denied for id ($a)"
	# shmget(key, 0, 0) asks for no permission: the removal is refused.
	r nobody "$U" ipcrm -M "$ka"
	want_rc 1 "ipcrm -M as nobody"
	want_err "uipc ipcrm: permission denied for key ($a)"
	# ipcrm -a walks with SHM_STAT: the segment nobody cannot read is skipped.
	r nobody "$U" ipcrm -a
	want_rc 1 "ipcrm -a as nobody"
	want_err "uipc ipcrm: permission denied for id ($b)"
	[ -n "$(mkey_of "$a")" ] && [ -n "$(mkey_of "$b")" ] || fail "nobody removed a segment"
	clean
	end
else
	skip shm_other_user "not root, or no setpriv, or nobody cannot run $U"
fi

begin shm_limits
clean
r "$U" limits set shmmax=10000 shmall=5 shmmni=3
want_rc 0 "limits set"
r "$U" limits
want_line "$(printf '%-8s %12s  %-6s  %s' shmmax 10000 set 'max seg size (bytes)')"
want_line "$(printf '%-8s %12s  %-6s  %s' shmall 5 set 'max total shared memory (pages)')"
want_line "$(printf '%-8s %12s  %-6s  %s' shmmni 3 set 'max number of segments')"
want_line "$(printf '%-8s %12s  %-6s  %s' shmmin 1 kernel 'min seg size (bytes)')"
printf '\n------ Shared Memory Limits --------\nmax number of segments = 3\nmax seg size (kbytes) = 9\nmax total shared memory (kbytes) = 20\nmin seg size (bytes) = 1\n\n' >"$T/want"
r "$U" ipcs -m -l
want_file
printf '\n------ Shared Memory Limits --------\nmax number of segments = 3\nmax seg size (bytes) = 10000\nmax total shared memory (bytes) = 20480\nmin seg size (bytes) = 1\n\n' >"$T/want"
r "$U" ipcs -m -l -b
want_file
printf '\n------ Shared Memory Limits --------\nmax number of segments = 3\nmax seg size = 9.8K\nmax total shared memory = 20K\nmin seg size = 1B\n\n' >"$T/want"
r "$U" ipcs -m -l --human
want_file
r "$U" ipcmk -M 10001
want_rc 1 "ipcmk beyond shmmax"
want_err "uipc ipcmk: create share memory failed: Invalid argument"
mkm -M 10000 >/dev/null || fail "ipcmk -M 10000"
r "$U" ipcmk -M 8193
want_rc 1 "ipcmk beyond shmall"
want_err "uipc ipcmk: create share memory failed: No space left on device"
mkm -M 1 >/dev/null && mkm -M 1 >/dev/null || fail "ipcmk -M 1"
r "$U" ipcmk -M 1
want_rc 1 "ipcmk beyond shmmni"
want_err "uipc ipcmk: create share memory failed: No space left on device"
r "$U" limits set shmmni=5
r "$U" ipcmk -M 1
want_err "uipc ipcmk: create share memory failed: No space left on device"
r "$U" ipcs -m -u
want_line "segments allocated 3"
want_line "pages allocated 5"
if [ -n "$PY" ]; then
	r "$U" ipcs -m -l --json
	"$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d == {"shared-memory-limits": {"shmmni": 5, "shmmax": 10000, "shmall": 5, "shmmin": 1}}, d' \
		<"$T/out" || fail "ipcs -m -l --json: [$out]"
fi
# shmall is in pages: util-linux's product saturates.
r "$U" limits set shmall=4503599627370496
r "$U" ipcs -m -l
want_line "max total shared memory (kbytes) = 18014398509481984"
r "$U" ipcs -m -l -b
want_line "max total shared memory (bytes) = 18446744073709547520"
r "$U" limits set shmmin=2
want_rc 1 "limits set shmmin=2"
clean
r "$U" limits set shmmax=kernel shmall=default shmmni=kernel
want_rc 0 "limits set kernel"
r "$U" limits
[ "$(grep -c '^shm[a-z]*  *[0-9]*  kernel  ' "$T/out")" = 4 ] || fail "shm limits not unset: [$out]"
end

# ---- run ----

begin run
lib=$(cd "$B" && pwd -P)/libuipc-preload.so
r san "$U" run -- sh -c 'echo "$LD_PRELOAD"'
want_rc 0 "run"
want_out "$lib"
r san env LD_PRELOAD= "$U" run sh -c 'echo "$LD_PRELOAD"'
want_out "$lib"
r san env LD_PRELOAD=/nonexistent/x.so "$U" run -- sh -c 'echo "$LD_PRELOAD"'
want_out "$lib:/nonexistent/x.so"
r san "$U" run --root /some/where -- sh -c 'echo "$UIPC_ROOT"'
want_out "/some/where"
r san sh -c 'cd "$1" && "$2" run --root=sub/dir sh -c "echo \$UIPC_ROOT"' sh "$T" "$U"
want_out "$T/sub/dir"
r san "$U" run -- sh -c 'exit 3'
want_rc 3 "run exit status"
r san "$U" run -- /nonexistent/prog
want_rc 127 "run nonexistent"
want_err "uipc run: cannot run '/nonexistent/prog': No such file or directory"
r san "$U" run
want_rc 1 "run without program"
want_err "uipc run: no program given
Try 'uipc run --help' for more information."
end

# A program run under "uipc run" gets uipc's queues, not the kernel's.
if [ -n "$PY" ]; then
	begin run_preload
	clean
	key=$(( ($$ % 100000) * 1000 + 0x5e0000 ))
	id=$(san "$U" run -- "$PY" "$T/q.py" libc get "$key" 0o1600) ||
		fail "msgget under uipc run"
	r "$U" ipcs -q
	want_line "$(row "$(printf '0x%08x' "$key")" "$id" "$me" 600 0 0)"
	spid=$(san "$U" run -- "$PY" "$T/q.py" libc send "$id" 5) || fail "msgsnd under uipc run"
	r "$U" ipcs -q -p
	want_line "$(printf '%-8s %-10.10s  %5d     %5d' "$id" "$me" "$spid" 0)"
	# Without the preload library the same key is not in the kernel.
	r "$PY" "$T/q.py" libc get "$key"
	want_rc 1 "msgget without uipc run"
	want_err "msgget: No such file or directory"
	clean
	end
else
	skip run_preload "no python3"
fi

[ $nfailed -eq 0 ]
