#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The example configs as shipped: nbs reads config/nbs.ini (its listen
# addresses overridden by the command line so that tests do not collide),
# bs-user reads config/bs-user.ini (--connect and --duration overridden),
# nbs-proxy reads config/nbs-proxy.ini (--upstream and --listen
# overridden) and a bs-user is served through it; all run and succeed. A
# config with an unknown key or a bad value is refused with exit 2 and
# names the file and line.
#
#   bs_config.sh NBS BS_USER NBS_PROXY SOURCE_DIR
here=$(cd "$(dirname "$0")" && pwd)
. "$here/bs_lib.sh"
NBS=$1 BS_USER=$2 PROXY=$3 src=$4
bs_init config
bs_nbs nbs.out --config "$src/config/nbs.ini" --store memory:128M
grep -q "^ready: nbs listening on $NBS_CTL store memory:128M" "$T/nbs.out" ||
	fail "nbs did not take the command line over the file: $(head -n 1 "$T/nbs.out")"
bs_user user.out --config "$src/config/bs-user.ini" --duration 0.5
bs_wait "$BSU_PID"
bs_check_user user.out "$BS_STATUS"
r=$(bs_result user.out)
[ "$(bs_kv "$r" workload)" = rand ] && [ "$(bs_kv "$r" qd)" = 32 ] ||
	fail "bs-user did not read its config: $r"
# The proxy's config, its addresses made ours.
pctl="unix:@bs-test-config-proxy-$$"
bs_start proxy.out PP "$PROXY" --config "$src/config/nbs-proxy.ini" --upstream "$NBS_CTL" \
	--listen "$pctl"
grep -q "^ready: nbs-proxy listening on $pctl upstream $NBS_CTL via shm" "$T/proxy.out" ||
	fail "nbs-proxy did not read its config or take the command line over it"
bs_bg puser.out PU "$BS_USER" --connect "$pctl" --workload basic --count 20 --stats-period 0
bs_wait "$PU"
bs_check_user puser.out "$BS_STATUS"
bs_term "$PP"
[ "$BS_STATUS" = 0 ] || fail "nbs-proxy exited $BS_STATUS"
bs_stop_nbs
bs_check_nbs nbs.out

printf '[nbs]\nstore = memory:1M\nno-such-key = 1\n' >"$T/bad.ini"
"$NBS" --config "$T/bad.ini" --listen "$NBS_CTL" >"$T/bad.out" 2>&1
st=$?
[ "$st" = 2 ] || fail "nbs with an unknown key exited $st"
grep -q 'bad.ini' "$T/bad.out" || fail "nbs did not name the file: $(cat "$T/bad.out")"
printf '[bs-user]\nqd = lots\n' >"$T/bad2.ini"
"$BS_USER" --config "$T/bad2.ini" --connect "$NBS_CTL" >"$T/bad2.out" 2>&1
st=$?
[ "$st" = 2 ] || fail "bs-user with a bad value exited $st"
grep -q 'bad2.ini' "$T/bad2.out" || fail "bs-user did not name the file: $(cat "$T/bad2.out")"
printf '[nbs-proxy]\nupstream = unix:@x\nlisten = unix:@y\nreconnect-timeout = soon\n' >"$T/bad3.ini"
"$PROXY" --config "$T/bad3.ini" >"$T/bad3.out" 2>&1
st=$?
[ "$st" = 2 ] || fail "nbs-proxy with a bad value exited $st"
grep -q 'bad3.ini' "$T/bad3.out" || fail "nbs-proxy did not name the file: $(cat "$T/bad3.out")"
echo PASS
