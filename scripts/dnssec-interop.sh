#!/usr/bin/env bash
# make interop (second half): mailcheck's dnssec check against real DNSSEC
# peers. Builds a signed zone world on loopback at run time: a private root
# ".", "test." and its children secure.test (signed, DS in test.),
# insecure.test (unsigned, no DS: proven by NSEC), bogus.test (DS for a key
# the zone does not publish) and expired.test (signatures expired), signed
# with ldns-signzone. Knot serves them on 127.0.0.153:53, Unbound validates
# on 127.0.0.154:53 from the private root's trust anchor. The Go test
# behind the `interop` build tag (internal/dnssec/interop_test.go) then
# compares delv's verdict (the oracle) with mailcheck's for each name,
# through Unbound and through Knot directly.
#
# Installs knot, unbound, bind9-dnsutils and ldnsutils when missing,
# without letting the packages start their system services. Starts exactly
# its own knotd and unbound (own configuration and run directories under a
# temporary directory) and stops exactly those on exit, even on failure.
# Needs root (port 53). Touches no system service and nothing in /etc.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"

AUTH=127.0.0.153   # knotd (127.0.0.53/54 are systemd-resolved's)
RESOLVER=127.0.0.154 # unbound
ALG=ECDSAP256SHA256

if [ "$(id -u)" -ne 0 ]; then
	echo "dnssec-interop: needs root (Knot and Unbound listen on port 53)" >&2
	exit 1
fi

# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh # apt_install, $policy, $created_policy (the working directory is the repository)
# shellcheck source=scripts/signed-world.sh
. scripts/signed-world.sh # keygen, ds, sign, knot_conf, unbound_conf
tmp=""
pids=()

# cleanup stops exactly the servers started here, by pid, and removes the
# temporary directory (kept, with the logs printed, on failure).
cleanup() {
	local rc=$?
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$tmp" ]; then
		if [ "$rc" -ne 0 ]; then
			for f in "$tmp"/knot/knot.log "$tmp"/unbound/unbound.log; do
				[ -f "$f" ] && { echo "== $f (last 40 lines)"; tail -n 40 "$f"; }
			done
		fi
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap "exit 143" TERM INT HUP

# install_tools installs the Debian packages that are missing; policy-rc.d
# exit 101 ("action forbidden") keeps them from starting knot.service and
# unbound.service (they would take port 53 on every address).
install_tools() {
	local need=()
	command -v knotd >/dev/null || need+=(knot)
	command -v unbound >/dev/null || need+=(unbound)
	command -v delv >/dev/null && command -v dig >/dev/null || need+=(bind9-dnsutils)
	command -v ldns-signzone >/dev/null || need+=(ldnsutils)
	[ ${#need[@]} -eq 0 ] && return 0
	echo "== dnssec-interop: installing ${need[*]}"
	apt_install "${need[@]}"
}

# leaf_zone writes the zone file of child zone $1: MX, A, TXT at the apex,
# then mx (A) and _dmarc (TXT), or with "wildcard" as $2 only wildcards
# (TXT and A) for the names below, so that _dmarc, _mta-sts and mx exist
# only through them.
leaf_zone() {
	cat >"$tmp/zones/$1.zone" <<EOF
\$ORIGIN $1.
\$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
@ IN NS ns.test.
@ IN MX 10 mx.$1.
@ IN A 192.0.2.1
@ IN TXT "v=spf1 mx -all"
EOF
	if [ "${2:-}" = wildcard ]; then
		printf '* IN TXT "v=DMARC1; p=reject"\n* IN A 192.0.2.25\n' >>"$tmp/zones/$1.zone"
	else
		printf 'mx IN A 192.0.2.25\n_dmarc IN TXT "v=DMARC1; p=reject"\n' >>"$tmp/zones/$1.zone"
	fi
}

# make_world writes and signs the zones, the trust anchor files for
# mailcheck (zone-file DS) and delv (trust-anchors static-ds), and the
# root hints for Unbound.
make_world() {
	mkdir -p "$tmp/keys" "$tmp/zones" "$tmp/knot/db" "$tmp/unbound"
	local k_root k_test k_secure k_bogus k_bogus_ds k_expired k_wild k_wild3 k_iter
	k_root=$(keygen .)
	k_test=$(keygen test)
	k_secure=$(keygen secure.test)
	k_bogus=$(keygen bogus.test)
	k_bogus_ds=$(keygen bogus.test) # its DS goes to test., the key nowhere
	k_expired=$(keygen expired.test)
	k_wild=$(keygen wild.test)
	k_wild3=$(keygen wild3.test)
	k_iter=$(keygen iter.test)

	for z in secure insecure bogus expired; do leaf_zone "$z.test"; done
	cp "$tmp/zones/insecure.test.zone" "$tmp/zones/insecure.test.zone.signed"
	sign "$tmp/zones/secure.test.zone" secure.test "$k_secure"
	sign "$tmp/zones/bogus.test.zone" bogus.test "$k_bogus"
	sign "$tmp/zones/expired.test.zone" expired.test "$k_expired" -i 20200101000000 -e 20200201000000
	# Wildcard answers with their NSEC and NSEC3 proofs (RFC 4035 §5.3.4,
	# RFC 5155 §8.8), and NSEC3 over the 150-iteration cap (RFC 9276 §3.2).
	leaf_zone wild.test wildcard
	leaf_zone wild3.test wildcard
	leaf_zone iter.test
	sign "$tmp/zones/wild.test.zone" wild.test "$k_wild"
	sign "$tmp/zones/wild3.test.zone" wild3.test "$k_wild3" -n -t 0
	sign "$tmp/zones/iter.test.zone" iter.test "$k_iter" -n -t 151

	cat >"$tmp/zones/test.zone" <<EOF
\$ORIGIN test.
\$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
@ IN NS ns.test.
ns IN A $AUTH
secure IN NS ns.test.
insecure IN NS ns.test.
bogus IN NS ns.test.
expired IN NS ns.test.
wild IN NS ns.test.
wild3 IN NS ns.test.
iter IN NS ns.test.
$(ds "$k_secure")
$(ds "$k_bogus_ds")
$(ds "$k_expired")
$(ds "$k_wild")
$(ds "$k_wild3")
$(ds "$k_iter")
EOF
	sign "$tmp/zones/test.zone" test "$k_test"

	cat >"$tmp/zones/root.zone" <<EOF
\$ORIGIN .
\$TTL 300
. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300
. IN NS ns.test.
test. IN NS ns.test.
ns.test. IN A $AUTH
$(ds "$k_test")
EOF
	sign "$tmp/zones/root.zone" . "$k_root"

	ds "$k_root" >"$tmp/anchor.ds"
	awk '{printf "trust-anchors {\n\t. static-ds %s %s %s \"%s\";\n};\n", $(NF-3), $(NF-2), $(NF-1), $NF}' "$tmp/anchor.ds" >"$tmp/anchor.delv"
	printf '. 3600 IN NS ns.test.\nns.test. 3600 IN A %s\n' "$AUTH" >"$tmp/unbound/root.hints"
}

# wait_for waits until server $1 answers SOA for zone $2.
wait_for() {
	for _ in $(seq 50); do
		if dig +short +time=1 +tries=1 @"$1" "$2" SOA 2>/dev/null | grep -q hostmaster; then
			return 0
		fi
		sleep 0.2
	done
	echo "dnssec-interop: $1 does not answer SOA $2" >&2
	return 1
}

# check_free fails when something already listens on address $1 port 53.
check_free() {
	if dig +short +time=1 +tries=1 @"$1" . SOA >/dev/null 2>&1; then
		echo "dnssec-interop: something already answers DNS on $1:53; stop it or run elsewhere" >&2
		exit 1
	fi
}

install_tools
echo "== dnssec-interop: knotd $(knotd -V | awk '{print $NF}'), unbound $(unbound -V | awk 'NR==1{print $2}'), $(delv -v 2>&1), $(ldns-signzone -v | head -n1)"
check_free "$AUTH"
check_free "$RESOLVER"
tmp=$(mktemp -d /tmp/mailcheck-dnssec-XXXXXX)
chmod 755 "$tmp"
make_world >/dev/null
knot_conf secure insecure bogus expired wild wild3 iter
unbound_conf

knotd -c "$tmp/knot/knot.conf" &
pids+=($!)
wait_for "$AUTH" secure.test
unbound -d -c "$tmp/unbound/unbound.conf" &
pids+=($!)
wait_for "$RESOLVER" secure.test

go build -o bin/mailcheck ./cmd/mailcheck
MAILCHECK_BIN="$PWD/bin/mailcheck" \
	DNSSEC_INTEROP_AUTH="$AUTH:53" \
	DNSSEC_INTEROP_RESOLVER="$RESOLVER:53" \
	DNSSEC_INTEROP_ANCHOR="$tmp/anchor.ds" \
	DNSSEC_INTEROP_DELV_ANCHOR="$tmp/anchor.delv" \
	go test -tags interop -count=1 -run 'Interop' -v ./internal/dnssec/
echo "== dnssec-interop: passed in ${SECONDS}s"
