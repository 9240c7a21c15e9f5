#!/usr/bin/env bash
# make interop: mailcheck's dane check against Postfix's own DANE client,
# posttls-finger -l dane (the oracle). Builds at run time a certificate
# chain (a CA and a server certificate for every MX name, openssl), a
# signed zone world with TLSA records for it (a private root ".", "test."
# and one child per case, ldns-signzone), and serves it with Knot on
# 127.0.0.20:53, validated by Unbound on 127.0.0.21:53 from the private
# root's trust anchor (the approach of scripts/dnssec-interop.sh). A Postfix
# instance of its own (own configuration under the temporary directory)
# listens on 127.0.0.22:25 (STARTTLS, the chain) and 127.0.0.23:25 (no
# STARTTLS). The Go test behind the `interop` build tag
# (internal/dane/interop_test.go) then runs posttls-finger, with Unbound as
# its resolver (its own /etc/resolv.conf, bind-mounted in a private mount
# namespace), and mailcheck on each case, and compares the verdicts.
#
# Installs knot, unbound, ldnsutils, bind9-dnsutils and postfix when
# missing, without letting the packages start their services. Starts
# exactly its own knotd, unbound and Postfix and stops exactly those on
# exit, even on failure. Needs root (ports 53 and 25, mount namespace).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:/sbin:$PATH"

AUTH=127.0.0.20     # knotd
RESOLVER=127.0.0.21 # unbound
MX_TLS=127.0.0.22   # postfix with STARTTLS
MX_PLAIN=127.0.0.23 # postfix without STARTTLS
ALG=ECDSAP256SHA256
# The cases: each is a zone <case>.test whose MX host mx.<case>.test is
# on $MX_TLS (notls: $MX_PLAIN); insecure is not signed (no DS).
CASES="match ta full mismatch pkix notls insecure none"

if [ "$(id -u)" -ne 0 ]; then
	echo "dane-interop: needs root (Knot, Unbound and Postfix listen on ports 53 and 25)" >&2
	exit 1
fi

# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh # apt_install, $policy, $created_policy (the working directory is the repository)
# shellcheck source=scripts/signed-world.sh
. scripts/signed-world.sh # keygen, ds, sign, knot_conf, unbound_conf
tmp=""
pids=()
postfix_started=""

# cleanup stops exactly what was started here (the daemons by pid, the
# Postfix instance through its own configuration directory) and removes
# the temporary directory (the logs printed on failure).
cleanup() {
	local rc=$?
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
	if [ -n "$postfix_started" ]; then postfix -c "$tmp/postfix" stop >/dev/null 2>&1 || true; fi
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "$tmp" ]; then
		if [ "$rc" -ne 0 ]; then
			for f in "$tmp"/knot/knot.log "$tmp"/unbound/unbound.log "$tmp"/postfix/postfix.log; do
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
# exit 101 ("action forbidden") keeps them from starting their services.
install_tools() {
	local need=()
	command -v knotd >/dev/null || need+=(knot)
	command -v unbound >/dev/null || need+=(unbound)
	command -v dig >/dev/null || need+=(bind9-dnsutils)
	command -v ldns-signzone >/dev/null || need+=(ldnsutils)
	command -v posttls-finger >/dev/null || need+=(postfix)
	command -v openssl >/dev/null || need+=(openssl)
	[ ${#need[@]} -eq 0 ] && return 0
	echo "== dane-interop: installing ${need[*]}"
	apt_install "${need[@]}"
}

# make_certs makes a CA and a server certificate for every MX name, and
# the chain Postfix presents (key, server certificate, CA).
make_certs() {
	local d=$tmp/certs san="" c
	mkdir -p "$d"
	for c in $CASES; do san="$san,DNS:mx.$c.test"; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
		-subj "/CN=mailcheck dane interop CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=mx.match.test" \
		-keyout "$d/mx.key" -out "$d/mx.csr" 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "${san#,}" >"$d/ext"
	openssl x509 -req -in "$d/mx.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
		-extfile "$d/ext" -out "$d/mx.pem" 2>/dev/null
	cat "$d/mx.key" "$d/mx.pem" "$d/ca.pem" >"$d/chain.pem"
	chmod 644 "$d"/*.pem
}

# spki_sha256 and cert_sha256 print the TLSA data (SHA-256) of the key or
# the whole certificate in PEM file $1.
spki_sha256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
cert_sha256() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

# tlsa prints the TLSA record data of case $1.
tlsa() {
	local d=$tmp/certs
	case $1 in
	match | notls | insecure) echo "3 1 1 $(spki_sha256 "$d/mx.pem")" ;;
	ta) echo "2 1 1 $(spki_sha256 "$d/ca.pem")" ;;
	full) echo "3 0 1 $(cert_sha256 "$d/mx.pem")" ;;
	mismatch) echo "3 1 1 $(printf 'not the key' | sha256sum | cut -d' ' -f1)" ;;
	pkix) echo "1 1 1 $(spki_sha256 "$d/mx.pem")" ;;
	none) ;;
	esac
}

# case_zone writes the zone file of case $1.
case_zone() {
	local addr=$MX_TLS rec
	[ "$1" = notls ] && addr=$MX_PLAIN
	rec=$(tlsa "$1")
	{
		printf '$ORIGIN %s.test.\n$TTL 300\n' "$1"
		printf '@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n'
		printf '@ IN MX 10 mx.%s.test.\nmx IN A %s\n' "$1" "$addr"
		if [ -n "$rec" ]; then printf '_25._tcp.mx IN TLSA %s\n' "$rec"; fi
	} >"$tmp/zones/$1.test.zone"
}

# make_world writes and signs the zones, the trust anchor (zone-file DS)
# and Unbound's root hints.
make_world() {
	mkdir -p "$tmp/keys" "$tmp/zones" "$tmp/knot/db" "$tmp/unbound"
	local k_root k_test k c delegations=""
	k_root=$(keygen .)
	k_test=$(keygen test)
	for c in $CASES; do
		case_zone "$c"
		delegations+="$c IN NS ns.test."$'\n'
		if [ "$c" = insecure ]; then
			cp "$tmp/zones/$c.test.zone" "$tmp/zones/$c.test.zone.signed"
			continue
		fi
		k=$(keygen "$c.test")
		sign "$tmp/zones/$c.test.zone" "$c.test" "$k"
		delegations+="$(ds "$k")"$'\n'
	done
	printf '$ORIGIN test.\n$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\nns IN A %s\n%s' \
		"$AUTH" "$delegations" >"$tmp/zones/test.zone"
	sign "$tmp/zones/test.zone" test "$k_test"
	printf '$ORIGIN .\n$TTL 300\n. IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n. IN NS ns.test.\ntest. IN NS ns.test.\nns.test. IN A %s\n%s\n' \
		"$AUTH" "$(ds "$k_test")" >"$tmp/zones/root.zone"
	sign "$tmp/zones/root.zone" . "$k_root"
	ds "$k_root" >"$tmp/anchor.ds"
	printf '. 3600 IN NS ns.test.\nns.test. 3600 IN A %s\n' "$AUTH" >"$tmp/unbound/root.hints"
}

# postfix_conf writes the server instance (two listeners, delivers
# nowhere) and the client configuration posttls-finger reads (DNSSEC).
postfix_conf() {
	local d=$tmp/postfix
	mkdir -p "$d/queue" "$d/data" "$tmp/client"
	cat >"$d/main.cf" <<EOF
# mailcheck dane interop: listens on $MX_TLS and $MX_PLAIN only, delivers nowhere.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
syslog_name = postfix-mailcheck-dane
myhostname = mx.match.test
mydestination =
relay_domains =
mynetworks = 127.255.255.254/32
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
relayhost =
default_transport = discard:mailcheck dane interop: no delivery
local_transport = error:mailcheck dane interop: no delivery
smtpd_relay_restrictions = reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_chain_files = $tmp/certs/chain.pem
smtpd_tls_loglevel = 1
EOF
	cat >"$d/master.cf" <<EOF
$MX_TLS:smtp inet n - n - - smtpd
$MX_PLAIN:smtp inet n - n - - smtpd
  -o smtpd_tls_security_level=none
EOF
	# The internal services, unchrooted, as the Postfix interop test has them.
	grep -E '^[a-z]+ +unix' testdata/interop/master.cf.tmpl >>"$d/master.cf"
	cat >"$tmp/client/main.cf" <<EOF
compatibility_level = 3.6
inet_protocols = ipv4
smtp_dns_support_level = dnssec
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
EOF
	printf 'nameserver %s\noptions trust-ad edns0\n' "$RESOLVER" >"$tmp/resolv.conf"
}

wait_dns() {
	for _ in $(seq 50); do
		dig +short +time=1 +tries=1 @"$1" "$2" SOA 2>/dev/null | grep -q hostmaster && return 0
		sleep 0.2
	done
	echo "dane-interop: $1 does not answer SOA $2" >&2
	return 1
}

wait_smtp() {
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/25") 2>/dev/null && return 0
		sleep 0.2
	done
	echo "dane-interop: nothing listens on $1:25" >&2
	return 1
}

check_free() {
	if dig +short +time=1 +tries=1 @"$1" . SOA >/dev/null 2>&1 || (exec 3<>"/dev/tcp/$1/25") 2>/dev/null; then
		echo "dane-interop: something already listens on $1; stop it or run elsewhere" >&2
		exit 1
	fi
}

install_tools
echo "== dane-interop: $(postconf -d mail_version 2>/dev/null), knotd $(knotd -V | awk '{print $NF}'), unbound $(unbound -V | awk 'NR==1{print $2}'), $(openssl version)"
for a in "$AUTH" "$RESOLVER" "$MX_TLS" "$MX_PLAIN"; do check_free "$a"; done
tmp=$(mktemp -d /tmp/mailcheck-dane-XXXXXX)
chmod 755 "$tmp"
make_certs
make_world >/dev/null
knot_conf $CASES
unbound_conf
postfix_conf

knotd -c "$tmp/knot/knot.conf" &
pids+=($!)
wait_dns "$AUTH" match.test
unbound -d -c "$tmp/unbound/unbound.conf" &
pids+=($!)
wait_dns "$RESOLVER" match.test
postfix -c "$tmp/postfix" set-permissions create-missing >/dev/null 2>&1 || true
postfix -c "$tmp/postfix" check
postfix -c "$tmp/postfix" start
postfix_started=1
wait_smtp "$MX_TLS"
wait_smtp "$MX_PLAIN"

go build -o bin/mailcheck ./cmd/mailcheck
MAILCHECK_BIN="$PWD/bin/mailcheck" \
	DANE_INTEROP_CASES="$CASES" \
	DANE_INTEROP_RESOLVER="$RESOLVER:53" \
	DANE_INTEROP_ANCHOR="$tmp/anchor.ds" \
	DANE_INTEROP_CLIENT="$tmp/client" \
	DANE_INTEROP_RESOLV_CONF="$tmp/resolv.conf" \
	go test -tags interop -count=1 -run 'Interop' -v ./internal/dane/
echo "== dane-interop: passed in ${SECONDS}s"
