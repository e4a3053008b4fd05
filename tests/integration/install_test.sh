#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The tree as a user gets it: `meson install --destdir D`, then programs
# built against D with nothing but pkg-config (PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR pointing into D):
#  1. install/local_shm.c with `pkg-config --cflags --libs libbulk` runs
#     (LD_LIBRARY_PATH into D), and ldd shows libbulk from D and no DPDK
#     library; pkg-config says nothing of DPDK;
#  2. the same with `pkg-config --static`, linked fully static, runs;
#  3. with DPDK: install/dpdk.c with `pkg-config --cflags --libs
#     libbulk-dpdk` (D, a sysroot, gets links to the host's /usr/include
#     and /usr/lib, where DPDK lies) loads with LD_BIND_NOW=1 and, as root,
#     opens a link on a net_null port; without DPDK nothing of
#     libbulk-dpdk is installed;
#  4. every symbol `nm -D --defined-only` lists for the installed libraries
#     is a bulk_ name declared in an installed header (a program that
#     takes each one's address compiles against them), and every function
#     the public headers declare is exported (a program that takes each
#     one's address links);
#  5. the installed backend SDK header compiles on its own.
# Where the .pc files are relocatable (a fresh build directory), 1 and 3
# also build with PKG_CONFIG_PATH alone, as the README's recipe does.
#
# Usage: install_test.sh BUILD_DIR SOURCE_DIR CC SANITIZE DEFAULT_LIBRARY
# Exit 0 pass, 1 fail, 77 skip.
set -u

build=$1
src=$2
read -ra cc <<<"$3" # the compiler command, e.g. "ccache cc"
sanitize=$4
default_library=$5
progs=$src/tests/integration/install

say() { echo "install_test: $*"; }
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
skip() { echo "install_test: SKIP: $*"; exit 77; }

if [ "$sanitize" != none ]; then
	skip "a -Db_sanitize=$sanitize build: its libraries need the sanitizer runtime in every" \
	     "program that links them"
fi
if [ "$default_library" = static ]; then
	skip "a -Ddefault_library=static build installs no shared library to check"
fi
for tool in meson pkg-config nm ldd readelf; do
	command -v "$tool" >/dev/null || skip "$tool not found"
done

D=$(mktemp -d "${TMPDIR:-/tmp}/libbulk-install.XXXXXX") || fail "mktemp"
trap 'rm -rf "$D"' EXIT
T=$D.work
mkdir "$T" || fail "mkdir $T"
trap 'rm -rf "$D" "$T"' EXIT

# The tree is built (meson test builds it first): install only.
meson install -C "$build" --no-rebuild --destdir "$D" --quiet >"$T/install.log" 2>&1 ||
	{ cat "$T/install.log" >&2; fail "meson install -C $build --destdir $D"; }

pc=$(find "$D" -name libbulk.pc -path '*/pkgconfig/*')
[ -n "$pc" ] || fail "no libbulk.pc under $D"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
inc=$(dirname "$(find "$D" -path '*/bulk/bulk.h')")
[ -d "$inc" ] || fail "no bulk/bulk.h under $D"
say "installed: $(cd "$D" && find . -type f | sort | tr '\n' ' ')"

export PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_SYSROOT_DIR=$D
unset PKG_CONFIG_LIBDIR

feature() { sed -n "s/^#define $1 \([01]\)$/\1/p" "$inc/bulk_features.h"; }
have_local=$(feature BULK_HAVE_LOCAL)
have_shm=$(feature BULK_HAVE_SHM)
have_dpdk=$(feature BULK_HAVE_DPDK)
if [ -z "$have_local" ] || [ -z "$have_shm" ] || [ -z "$have_dpdk" ]; then
	fail "bulk_features.h lacks a BULK_HAVE_ macro"
fi
grep -q '^#define BULK_VERSION_STRING "[0-9]*\.[0-9]*\.[0-9]*"$' "$inc/bulk_version.h" ||
	fail "bulk_version.h has no BULK_VERSION_STRING"

# Only the headers of built backends.
for h in local:$have_local shm:$have_shm dpdk:$have_dpdk; do
	if [ "${h#*:}" = 1 ]; then
		[ -f "$inc/bulk_${h%:*}.h" ] || fail "bulk_${h%:*}.h not installed"
	else
		[ ! -e "$inc/bulk_${h%:*}.h" ] || fail "bulk_${h%:*}.h installed without its backend"
	fi
done

# --- 1. a local + shm program, dynamically linked --------------------------
flags=$(pkg-config --cflags --libs libbulk) || fail "pkg-config libbulk"
say "pkg-config --cflags --libs libbulk: $flags"
case "${flags//$D/}" in
*rte_*|*dpdk*|*-march*|*-include*) fail "libbulk's pkg-config flags mention DPDK: $flags" ;;
esac
# shellcheck disable=SC2086 # word splitting of pkg-config output is intended
"${cc[@]}" -std=c11 "$progs/local_shm.c" $flags -o "$T/local_shm" ||
	fail "cc local_shm.c \$(pkg-config --cflags --libs libbulk)"
LD_LIBRARY_PATH=$libdir "$T/local_shm" || fail "local_shm did not run"
LD_LIBRARY_PATH=$libdir ldd "$T/local_shm" >"$T/ldd" || fail "ldd local_shm"
grep -q "libbulk\.so\.[0-9]* => $libdir/" "$T/ldd" || { cat "$T/ldd"; fail "libbulk not from $D"; }
if grep -E 'librte_|libdpdk|libbulk-dpdk' "$T/ldd"; then
	fail "a libbulk program loads DPDK"
fi
say "local_shm: $(grep -c '=>' "$T/ldd") libraries loaded, none of DPDK"

# --- 2. the same, static ----------------------------------------------------
if [ -f "$libdir/libbulk.a" ]; then
	sflags=$(pkg-config --static --cflags --libs libbulk) || fail "pkg-config --static libbulk"
	say "pkg-config --static --cflags --libs libbulk: $sflags"
	# shellcheck disable=SC2086
	"${cc[@]}" -std=c11 -static "$progs/local_shm.c" $sflags -o "$T/local_shm_static" ||
		fail "cc -static local_shm.c \$(pkg-config --static --cflags --libs libbulk)"
	if readelf -d "$T/local_shm_static" | grep -q NEEDED; then
		fail "the static program is dynamic"
	fi
	"$T/local_shm_static" || fail "the static local_shm did not run"
else
	say "no libbulk.a (default_library=shared): no static link"
fi

# --- 3. a dpdk program --------------------------------------------------------
if [ "$have_dpdk" = 1 ]; then
	[ -f "$pcdir/libbulk-dpdk.pc" ] || fail "libbulk-dpdk.pc not installed"
	# A sysroot holds every package, DPDK included: give D the host's /usr
	# directories that the install left empty.
	linked=()
	for dir in /usr/include /usr/lib; do
		[ -e "$D$dir" ] && continue
		ln -s "$dir" "$D$dir" || fail "ln -s $dir $D$dir"
		linked+=("$D$dir")
	done
	dflags=$(pkg-config --cflags --libs libbulk-dpdk) || fail "pkg-config libbulk-dpdk"
	# shellcheck disable=SC2086
	"${cc[@]}" -std=c11 "$progs/dpdk.c" $dflags -o "$T/dpdk" ||
		fail "cc dpdk.c \$(pkg-config --cflags --libs libbulk-dpdk)"
	rm -f "${linked[@]}"
	LD_BIND_NOW=1 LD_LIBRARY_PATH=$libdir "$T/dpdk" || fail "dpdk did not load"
	LD_LIBRARY_PATH=$libdir ldd "$T/dpdk" >"$T/ldd" || fail "ldd dpdk"
	for lib in libbulk-dpdk libbulk; do
		grep -q "$lib\.so\.[0-9]* => $libdir/" "$T/ldd" ||
			{ cat "$T/ldd"; fail "$lib not from $D"; }
	done
	if [ "$(id -u)" = 0 ]; then
		LD_LIBRARY_PATH=$libdir "$T/dpdk" -l 0 --no-huge --no-pci --no-shconf -m 128 \
			--vdev net_null0 --log-level=lib.eal:error --log-level=lib.telemetry:error ||
			fail "dpdk over net_null0"
	else
		say "not root: the dpdk program only loaded (EAL not started)"
	fi
else
	for f in "$pcdir/libbulk-dpdk.pc" "$libdir"/libbulk-dpdk.*; do
		[ ! -e "$f" ] || fail "$f installed without DPDK"
	done
	say "DPDK not built: nothing of libbulk-dpdk installed"
fi

# The README's recipe: relocatable .pc files need no sysroot.
if grep -q "^prefix=\${pcfiledir}" "$pc"; then
	pkgs=(libbulk:local_shm)
	[ "$have_dpdk" = 1 ] && pkgs+=(libbulk-dpdk:dpdk)
	for p in "${pkgs[@]}"; do
		# shellcheck disable=SC2046
		if ! "${cc[@]}" -std=c11 "$progs/${p#*:}.c" -o "$T/${p#*:}.2" \
			$(PKG_CONFIG_SYSROOT_DIR='' pkg-config --cflags --libs "${p%:*}") ||
		   ! LD_LIBRARY_PATH=$libdir "$T/${p#*:}.2" >/dev/null; then
			fail "${p#*:}.c with \$(pkg-config --cflags --libs ${p%:*}), PKG_CONFIG_PATH alone"
		fi
	done
	say "PKG_CONFIG_PATH alone works too (relocatable .pc files)"
fi

# --- 4. exported == declared --------------------------------------------------
headers=$(cd "$inc" && ls -- *.h)
public=$(echo "$headers" | grep -vx -e bulk_backend.h -e bulk_mem.h)
cflags=(-std=c11 "-I$(dirname "$inc")")
total=0
: >"$T/exported"
for so in "$libdir"/lib*.so.*.*.*; do
	if [ ! -f "$so" ] || [ -L "$so" ]; then
		continue
	fi
	# Type A entries are the version nodes themselves (LIBBULK_0, ...).
	nm -D --defined-only "$so" | awk '$2 != "A" { print $3 }' >"$T/syms" ||
		fail "nm -D $so"
	n=$(wc -l <"$T/syms")
	total=$((total + n))
	nodes=$(sed -n 's/^[^@]*@@\{0,1\}//p' "$T/syms" | sort | uniq -c |
		awk '{ printf " %s %s", $2, $1 }')
	say "$(basename "$so"): $n symbols exported:$nodes"
	sed 's/@.*//' "$T/syms" >>"$T/exported"
done
[ "$total" -gt 0 ] || fail "no shared library installed in $libdir"
if grep -v '^bulk_' "$T/exported"; then
	fail "the names above are exported and are not bulk_ names"
fi
{
	for h in $headers; do echo "#include <bulk/$h>"; done
	echo "void *exported_names(void);"
	echo "void *exported_names(void) { void *volatile p = 0;"
	sed 's/.*/p = (void *)\&&;/' "$T/exported"
	echo "return p; }"
} >"$T/exported.c"
# An undeclared name is an error in C11: the compiler names each one.
"${cc[@]}" "${cflags[@]}" -c "$T/exported.c" -o "$T/exported.o" 2>"$T/exported.err" ||
	{ grep -E "undeclared|error" "$T/exported.err" >&2;
	  fail "exported symbols not declared in any installed header (above)"; }
say "all $total exported symbols are declared in the installed headers"

# Every function the public headers declare (static inline ones resolve in
# the program itself) links against the installed libraries.
for h in $public; do echo "#include <bulk/$h>"; done >"$T/public.h"
"${cc[@]}" "${cflags[@]}" -E -P "$T/public.h" | grep -o '\bbulk_[a-z0-9_]*[[:space:]]*(' |
	tr -d ' \t(' | sort -u >"$T/declared.txt"
libs=(-lbulk)
[ "$have_dpdk" = 1 ] && libs=(-lbulk-dpdk -lbulk)
# libbulk-bs (bulk_bs.h, the block service protocol) sits on top of libbulk.
[ -e "$libdir/libbulk-bs.so" ] && libs=(-lbulk-bs "${libs[@]}")
{
	for h in $public; do echo "#include <bulk/$h>"; done
	echo "int main(void) { void *volatile p = 0;"
	sed 's/.*/p = (void *)\&&;/' "$T/declared.txt"
	echo "return p == 0; }"
} >"$T/declared.c"
"${cc[@]}" "${cflags[@]}" "$T/declared.c" -L"$libdir" "${libs[@]}" -o "$T/declared" \
	2>"$T/declared.err" ||
	{ grep "undefined reference" "$T/declared.err" >&2;
	  fail "functions declared in the public headers and not exported (above)"; }
say "all $(wc -l <"$T/declared.txt") functions of the public headers are exported"

# --- 5. the backend SDK header stands on its own ------------------------------
echo '#include <bulk/bulk_backend.h>' | "${cc[@]}" "${cflags[@]}" -fsyntax-only -x c - ||
	fail "the installed bulk/bulk_backend.h does not compile on its own"

say "PASS"
exit 0
