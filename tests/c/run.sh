#!/usr/bin/env bash
# Builds libgonmf (when a Go source is newer than it), compiles test_abi.c
# against include/gonmf.h only, runs it, then runs it again under a memory
# checker. Prints the harness's closing "N passed, M failed" line last and
# exits non-zero on any failure.
#
#   GONMF_LIB=path/to/libgonmf.so  test that library instead of building one
#   GONMF_C_CHECKER=valgrind|asan|none   memory checker (default: valgrind if
#                                         installed, else asan)
#
# Memory checker. valgrind is usable with a Go c-shared library, with one
# blind spot. Go runs goroutines on stacks it allocates in its own mmap'ed heap
# and moves them (copystack); valgrind takes those switches for huge stack
# frames and marks live Go memory inaccessible, so every Go function reports
# bogus invalid reads/writes, uninitialised values and syscall params (some
# 80,000 per run). valgrind.supp drops errors whose innermost frame is in
# libgonmf itself. Still checked: every access made by the C test and by libc,
# every free (invalid and double frees are never suppressed), and leaks:
# Arrow buffers, C strings and cdata's export structs are malloc'ed, so an
# output that is never released, or a string never freed, is "definitely
# lost" and fails the run (verified by deleting one release from the test).
# A new Go-side "Syscall param X(y) points to unaddressable byte(s)" only needs
# one more entry in valgrind.supp (valgrind matches that line literally).
# Not checked by valgrind: Go code reading freed C memory; the Go tests cover
# buffer lifetimes with mallocator byte counts instead.
# GONMF_C_CHECKER=asan builds the C side with -fsanitize=address and loads the
# library uninstrumented: same coverage for the C side and for leaks of
# malloc'ed memory (LeakSanitizer; lsan.supp is there for Go runtime entries,
# none needed so far), none inside Go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$here/build"
mkdir -p "$build"

lib=${GONMF_LIB:-}
if [ -z "$lib" ]; then
	lib="$build/libgonmf.so"
	if [ ! -f "$lib" ] || [ -n "$(find "$root/capi" "$root/nmf" "$root/include" "$root/go.mod" "$root/go.sum" -newer "$lib" -print -quit)" ]; then
		echo "== building $lib" >&2
		if ! (cd "$root" && go build -buildmode=c-shared -o "$lib" ./capi); then
			echo "FAIL: go build of the library"
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
fi
if [ ! -f "$lib" ]; then
	echo "FAIL: no library at $lib"
	echo "0 passed, 1 failed"
	exit 1
fi
libdir=$(cd "$(dirname "$lib")" && pwd)
libname=$(basename "$lib")
# Link against the exact file, whatever its name, with the library's directory
# on the run-time search path.
cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -I "$root/include")
link=(-L "$libdir" -l:"$libname" -Wl,-rpath,"$libdir" -lm)

echo "== gcc test_abi.c" >&2
if ! gcc "${cflags[@]}" -o "$build/test_abi" "$here/test_abi.c" "${link[@]}"; then
	echo "FAIL: gcc test_abi.c"
	echo "0 passed, 1 failed"
	exit 1
fi

# The closing line adds one check per memory-checker run to the harness's own
# counts, so that it agrees with the exit status.
passed=0
failed=0
count() { # count "N passed, M failed" from a harness output file
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1 || true)
	if [ -z "$line" ]; then
		return 1
	fi
	passed=$((passed + ${line%% passed*}))
	local f=${line#*, }
	failed=$((failed + ${f%% failed}))
}

echo "== test_abi" >&2
rc=0
"$build/test_abi" >"$build/test_abi.out" || rc=$?
sed '$d' "$build/test_abi.out"
if ! count "$build/test_abi.out"; then
	echo "test_abi crashed (exit $rc) before its summary" >&2
	failed=$((failed + 1))
elif [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=$((failed + 1))
fi

checker=${GONMF_C_CHECKER:-}
if [ -z "$checker" ]; then
	if command -v valgrind >/dev/null; then checker=valgrind; else checker=asan; fi
fi
# check NAME OUTFILE CMD...: one check, passed when CMD exits 0 and its harness
# output ends with "0 failed".
check() {
	local name=$1 out=$2 log=$3
	shift 3
	if "$@" >"$out" 2>>"$log" && grep -qE '^[0-9]+ passed, 0 failed$' "$out"; then
		echo "$name: clean" >&2
		passed=$((passed + 1))
	else
		echo "FAIL $name: errors (see $log):"
		grep -E '^FAIL' "$out" || true
		grep -v '^--\|DW_FORM\|debug info' "$log" | head -n 60
		failed=$((failed + 1))
	fi
}
case "$checker" in
valgrind)
	echo "== test_abi under valgrind" >&2
	log="$build/valgrind.log"
	: >"$log"
	check valgrind "$build/valgrind.out" "$log" \
		valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		--show-leak-kinds=definite --suppressions="$here/valgrind.supp" --log-file="$log" \
		"$build/test_abi"
	;;
asan)
	echo "== test_abi with AddressSanitizer" >&2
	log="$build/asan.log"
	: >"$log"
	# Go installs its own signal handlers and stacks: let them be.
	gcc "${cflags[@]}" -fsanitize=address -fno-omit-frame-pointer -o "$build/test_abi_asan" \
		"$here/test_abi.c" "${link[@]}" 2>"$log" || true
	ASAN_OPTIONS=detect_leaks=1:handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1:use_sigaltstack=0 \
		LSAN_OPTIONS=suppressions="$here/lsan.supp":print_suppressions=0 \
		check asan "$build/asan.out" "$log" "$build/test_abi_asan"
	;;
none) ;;
*)
	echo "unknown GONMF_C_CHECKER=$checker" >&2
	exit 2
	;;
esac

# The closing line, alone and last.
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
