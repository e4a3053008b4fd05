#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# THE test command: installs what is missing (scripts/deps.sh), then builds
# and tests libbulk in three configurations:
#
#   gcc   build/       gcc, debugoptimized          every test
#   asan  build-asan/  clang, ASan + UBSan          every test
#   tsan  build-tsan/  clang, TSan                  suite "threads" only
#
# and ends with exactly one line:  N passed, N failed, N skipped
# counted over every test run in the three, from each build's
# meson-logs/testlog.json. "failed" counts FAIL, TIMEOUT, ERROR and
# UNEXPECTEDPASS, plus one for each configure/build step that failed, and
# one for each configuration whose tests left no testlog.json or in which no
# test ran (it proved nothing; the summary says which). Exits non-zero if
# anything failed.
#
# Usage: bash scripts/test.sh            (from any directory)
#   BULK_TEST_CONFIGS="gcc tsan" bash scripts/test.sh   run a subset
#   BULK_TEST_JOBS=4                      parallel tests (default 2)

set -uo pipefail # no -e: every configuration runs, failures are counted

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

CONFIGS=${BULK_TEST_CONFIGS:-gcc asan tsan}
JOBS=${BULK_TEST_JOBS:-2}

total_pass=0
total_fail=0
total_skip=0
summary=()
start_all=$SECONDS

banner()
{
	echo
	echo "=================================================================="
	echo "== $*"
	echo "=================================================================="
}

finish()
{
	banner "summary"
	local line
	for line in "${summary[@]}"; do
		echo "  $line"
	done
	echo "  total wall time: $((SECONDS - start_all))s"
	echo "${total_pass} passed, ${total_fail} failed, ${total_skip} skipped"
	if ((total_fail > 0)); then
		exit 1
	fi
	exit 0
}

banner "deps (scripts/deps.sh)"
if ! bash "$ROOT/scripts/deps.sh"; then
	echo "test: deps.sh failed; nothing can be built" >&2
	total_fail=1
	summary+=("deps: FAILED")
	finish
fi

# The C compiler an existing build dir was configured with ("gcc", "clang"),
# from its build.ninja (meson 1.0 has no compiler introspection), or nothing.
compiler_id()
{
	[[ -f "$1/build.ninja" ]] || return 0
	awk '/^rule c_COMPILER$/ { getline; for (i = 3; i <= NF; i++) if ($i !~ /cache$/) { print $i; exit } }' \
		"$1/build.ninja" | sed 's,.*/,,; s/-[0-9.]*$//'
}

# setup DIR WANT_CC_ID CC CXX MESON_ARGS...: configure DIR, reusing it when it
# was configured with the same compiler.
setup()
{
	local dir=$1 want=$2 cc=$3 cxx=$4
	shift 4
	if [[ -f "$dir/meson-private/coredata.dat" ]]; then
		local have
		have=$(compiler_id "$dir")
		if [[ "$have" == "$want" ]]; then
			meson setup --reconfigure "$dir" "$@" && return 0
			echo "test: reconfigure of $dir failed; wiping it"
		else
			echo "test: $dir was configured with '${have:-?}', want '$want'; wiping it"
		fi
		CC=$cc CXX=$cxx meson setup --wipe "$dir" "$@"
	else
		rm -rf "$dir"
		CC=$cc CXX=$cxx meson setup "$dir" "$@"
	fi
}

# count LOG: print "pass fail skip" for a meson testlog.json; names and
# results of the tests that did not pass go to stderr. A line that is not
# JSON counts as a failure.
count()
{
	python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
bad = []
try:
    with open(sys.argv[1]) as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                t = json.loads(line)
            except ValueError:
                f += 1
                bad.append("testlog.json line %d: not JSON" % n)
                continue
            r = t.get("result", "")
            if r in ("OK", "EXPECTEDFAIL"):
                p += 1
            elif r == "SKIP":
                s += 1
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, anything unknown
                f += 1
                bad.append("%s: %s" % (t.get("name", "?"), r))
except FileNotFoundError:
    pass
for b in bad:
    print("    not passed: " + b, file=sys.stderr)
print(p, f, s)
PY
}

# run_config NAME DIR CC_ID CC CXX "SETUP ARGS" "TEST ARGS" [ENV=VALUE...]
run_config()
{
	local name=$1 dir=$2 ccid=$3 cc=$4 cxx=$5 setup_args=$6 test_args=$7
	shift 7
	local t0=$SECONDS p=0 f=0 s=0 note=""
	local -a sargs targs
	read -r -a sargs <<<"$setup_args"
	read -r -a targs <<<"$test_args"

	banner "$name: configure $dir ($cc ${setup_args})"
	if ! setup "$dir" "$ccid" "$cc" "$cxx" "${sargs[@]}"; then
		summary+=("$name: CONFIGURE FAILED ($((SECONDS - t0))s)")
		total_fail=$((total_fail + 1))
		return
	fi

	banner "$name: build $dir"
	if ! meson compile -C "$dir"; then
		summary+=("$name: BUILD FAILED ($((SECONDS - t0))s)")
		total_fail=$((total_fail + 1))
		return
	fi

	banner "$name: test $dir (meson test ${test_args})"
	rm -f "$dir/meson-logs/testlog.json"
	local rc=0
	env "$@" meson test -C "$dir" --no-rebuild --print-errorlogs \
		--num-processes "$JOBS" "${targs[@]}" || rc=$?
	if [[ -f "$dir/meson-logs/testlog.json" ]]; then
		read -r p f s < <(count "$dir/meson-logs/testlog.json")
		: "${p:=0}" "${f:=0}" "${s:=0}" # count printed nothing: nothing ran
	else
		note=" (FAILED: no meson-logs/testlog.json)"
	fi
	if ((p + f + s == 0)); then
		# A configuration in which nothing ran proved nothing: a failure.
		f=1
		note="$note (FAILED: no test ran)"
		echo "    not passed: $name: no test ran" >&2
	fi
	if ((rc != 0 && f == 0)); then
		# meson itself failed (or a failure the log does not show).
		f=1
		note="$note (meson test exited $rc)"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	summary+=("$name: $p passed, $f failed, $s skipped$note ($((SECONDS - t0))s)")
	echo "== $name: $p passed, $f failed, $s skipped$note"
}

# TSan (clang 14) cannot map its shadow when the kernel randomizes mmap with
# more than 28 bits; run those tests with ASLR off there. The words are
# appended to run_config's env list, so env runs "setarch ARCH -R meson test".
tsan_wrap=()
if [[ -r /proc/sys/vm/mmap_rnd_bits ]] && (($(cat /proc/sys/vm/mmap_rnd_bits) > 28)) &&
	setarch "$(uname -m)" -R true 2>/dev/null; then
	tsan_wrap=(setarch "$(uname -m)" -R)
fi

for c in $CONFIGS; do
	case $c in
	gcc)
		run_config gcc build gcc gcc g++ \
			"--buildtype=debugoptimized -Dwerror=true -Dtests=true" \
			""
		;;
	asan)
		run_config asan build-asan clang clang clang++ \
			"--buildtype=debugoptimized -Dwerror=true -Dtests=true -Db_sanitize=address,undefined -Db_lundef=false -Dgbench=disabled" \
			"--timeout-multiplier 3" \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			BULKPERF_SHORT=1
		;;
	tsan)
		run_config tsan build-tsan clang clang clang++ \
			"--buildtype=debugoptimized -Dwerror=true -Dtests=true -Db_sanitize=thread -Db_lundef=false -Dgbench=disabled" \
			"--suite threads --timeout-multiplier 5" \
			TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
			BULKPERF_SHORT=1 \
			"${tsan_wrap[@]}"
		;;
	*)
		echo "test: unknown configuration '$c' (gcc, asan, tsan)" >&2
		summary+=("$c: UNKNOWN CONFIGURATION")
		total_fail=$((total_fail + 1))
		;;
	esac
done

finish
