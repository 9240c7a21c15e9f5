#!/usr/bin/env bash
# make interop: `mailcheck mta` and `mailcheck send-test` against real
# peers. (1) swaks, an independent SMTP client, sends to `mailcheck mta`
# with and without STARTTLS, with pipelining, oversize, with too many
# recipients and to a refused recipient, and the replies and exit codes
# are asserted. (2) The loopback send test through a real Postfix with
# OpenDKIM as its signing milter: send-test submits on a 587 listener
# with STARTTLS and SASL, Postfix signs and relays through a transport
# map to the embedded MTA, and the verdict must show DKIM, SPF and DMARC
# pass; then with the key record wrong in DNS: DKIM and DMARC fail, exit 1.
#
# Installs Debian's swaks (with Net::SSLeay), postfix, opendkim and
# opendkim-tools when missing, without letting any package start a
# system service (policy-rc.d). Everything it starts runs with its own
# configuration under a temporary directory on 127.0.0.8-9, and exactly
# that is stopped on exit. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
	echo "mta-interop: needs root (packages, Postfix)" >&2
	exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=""
tmp=$(mktemp -d /tmp/mta-interop.XXXXXX)
pids=()
postfix_dir=""
cleanup() {
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
	if [ -n "$postfix_dir" ]; then postfix -c "$postfix_dir" stop >/dev/null 2>&1 || true; fi
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# install PACKAGE... installs what is missing, starting no service.
install() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== mta-interop: installing ${missing[*]}"
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	if [ -n "$created_policy" ]; then rm -f "$policy"; created_policy=""; fi
}

fail() { echo "mta-interop: FAIL: $*" >&2; exit 1; }

# wait_for FILE PATTERN: until FILE holds PATTERN (10 s at most).
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "timed out waiting for '$2' in $1: $(cat "$1")"
}

# expect NAME WANT_CODE PATTERN -- swaks args: runs swaks, asserts its
# exit code and that its transcript holds PATTERN.
expect() {
	local name=$1 want=$2 pattern=$3 code=0
	shift 4
	swaks --server 127.0.0.8 --port 2525 --helo client.interop.test --from sender@interop.test "$@" >"$tmp/$name.log" 2>&1 || code=$?
	[ "$code" -eq "$want" ] || fail "$name: swaks exit $code, want $want: $(cat "$tmp/$name.log")"
	grep -q -- "$pattern" "$tmp/$name.log" || fail "$name: no '$pattern' in: $(cat "$tmp/$name.log")"
	echo "   ok  $name (swaks exit $code, '$pattern')"
}

install swaks libnet-ssleay-perl
go build -o bin/mailcheck ./cmd/mailcheck
mc="$PWD/bin/mailcheck"

echo "== mta-interop: swaks $(swaks --version | head -1 | awk '{print $3}') against mailcheck mta"
"$mc" mta --listen 127.0.0.8:2525 --hostname sink.interop.test --accept @sink.interop.test --offline \
	--max-size 20000 --max-rcpts 3 --count 4 --wait 2m --format json >"$tmp/mta.jsonl" 2>"$tmp/mta.err" &
pids+=($!)
mta_pid=$!
wait_for "$tmp/mta.err" "listening on 127.0.0.8:2525"
head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 76 >"$tmp/big.txt"
expect oversize 26 "<~\* *552" -- --to d@sink.interop.test --tls --body "@$tmp/big.txt"
expect refused-rcpt 24 "550 5.7.1" -- --to nobody@elsewhere.test --tls
expect plain 0 "<-  250 2.0.0 OK: queued" -- --to a@sink.interop.test
expect starttls 0 "<~  250 2.0.0 OK: queued" -- --to b@sink.interop.test --tls
expect pipelining 0 "250 2.0.0 OK: queued" -- --to c@sink.interop.test --tls --pipeline
expect too-many-rcpts 0 "<~\* *452" -- --to r1@sink.interop.test,r2@sink.interop.test,r3@sink.interop.test,r4@sink.interop.test --tls
code=0
wait "$mta_pid" || code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 1 ] || fail "mailcheck mta exit $code: $(cat "$tmp/mta.err")"
[ "$(wc -l <"$tmp/mta.jsonl")" -eq 4 ] || fail "mailcheck mta reported $(wc -l <"$tmp/mta.jsonl") messages, want 4"
[ "$(grep -c '"tls":"TLS 1.3' "$tmp/mta.jsonl")" -eq 3 ] || fail "want 3 messages over TLS 1.3: $(cat "$tmp/mta.jsonl")"
grep -q '"rcpts":\["r1@sink.interop.test","r2@sink.interop.test","r3@sink.interop.test"\]' "$tmp/mta.jsonl" ||
	fail "the message with too many recipients: $(cat "$tmp/mta.jsonl")"
echo "   ok  mailcheck mta judged 4 messages (exit $code), 3 over TLS 1.3"
