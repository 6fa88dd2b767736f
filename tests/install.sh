#!/bin/sh
# make install into a staging directory, then build and run a program
# against the installed copy using only pkg-config's flags.
B=${B:?}
command -v pkg-config >/dev/null || exit 77
# The staged program is not instrumented: skip under the sanitizers.
[ -z "${UIPC_SANITIZE:-}" ] || exit 77
top=$(cd "$(dirname "$0")/.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
fails=0
check() {
	name=$1; shift
	if "$@"; then echo "PASS $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
check install_runs make -s -C "$top" B="$B" install PREFIX=/usr DESTDIR="$stage" >/dev/null
for f in usr/lib/libuipc.so usr/lib/libuipc.so.1 usr/lib/libuipc.a usr/lib/libuipc-preload.so \
	 usr/include/uipc.h usr/lib/pkgconfig/uipc.pc usr/bin/uipc; do
	check "install_has_$(basename "$f")" test -e "$stage/$f"
done
cat > "$stage/prog.c" <<'PROG'
#include <uipc.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct { long mtype; char text[8]; } m = { 7, "pkg" }, r;
	int id = uipc_msgget(IPC_PRIVATE, 0600);
	if (id < 0 || uipc_msgsnd(id, &m, 4, 0) || uipc_msgrcv(id, &r, 8, 7, 0) != 4 ||
	    strcmp(r.text, "pkg") || uipc_msgctl(id, IPC_RMID, NULL))
		return 1;
	puts("ok");
	return 0;
}
PROG
export PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
check install_pkgconfig_compiles sh -c 'cc $(pkg-config --cflags uipc) -o "$0/prog" "$0/prog.c" $(pkg-config --libs uipc)' "$stage"
check install_program_runs sh -c 'test "$(LD_LIBRARY_PATH=$0/usr/lib $0/prog)" = ok' "$stage"
check install_soname sh -c 'objdump -p "$0/usr/lib/libuipc.so" | grep -q "SONAME *libuipc.so.1"' "$stage"
check install_exports_only_api sh -c 'test -z "$(nm -D --defined-only "$0/usr/lib/libuipc.so" | awk "{print \$3}" | grep -v "^uipc_\|^UIPC_")"' "$stage"
[ $fails -eq 0 ]
