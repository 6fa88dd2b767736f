#!/bin/sh
# Runs each test program given as argument with its own fresh UIPC_ROOT and a
# time limit, and counts the PASS and FAIL lines they print.  A program that
# exits non-zero without printing a FAIL line counts as one failure; exit 77
# means skipped.  Ends with the line "N passed, N failed".
passed=0 failed=0 skipped=0
limit=${UIPC_TEST_TIMEOUT:-600}
for t in "$@"; do
	name=$(basename "$t")
	root=$(mktemp -d /dev/shm/uipc-test.XXXXXX)
	chmod 1777 "$root"
	out=$(mktemp)
	case $t in
	*.sh) set -- sh "$t" ;;
	*) set -- "$t" ;;
	esac
	UIPC_ROOT=$root timeout -k 5 "$limit" "$@" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	if [ $rc -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "SKIP $name"
	elif [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "FAIL $name: exit status $rc"
	fi
	if [ "$f" -ne 0 ] || [ $rc -ne 0 -a $rc -ne 77 ]; then
		sed "s/^/  $name: /" "$out"
	elif [ $rc -ne 77 ]; then
		echo "ok   $name ($p cases)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	rm -rf "$root" "$out"
done
if [ $skipped -ne 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
