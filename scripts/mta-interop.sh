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

# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh # apt_install, $policy, $created_policy (the working directory is the repository)
# Under /run, not /tmp: OpenDKIM refuses a configuration file below a
# directory that others can write to.
tmp=$(mktemp -d /run/mailcheck-mta-interop.XXXXXX)
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
	apt_install "${missing[@]}"
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

install swaks libnet-ssleay-perl postfix libsasl2-modules sasl2-bin opendkim opendkim-tools
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

# ---- (2) the loopback send test through Postfix with OpenDKIM ----------
# 127.0.0.8:587  Postfix submission: STARTTLS required, SASL (sasldb) after
#                TLS, OpenDKIM as milter; relays sink.interop.test through
#                a transport map to the embedded MTA, from 127.0.0.8
# 127.0.0.9:8891 OpenDKIM, signing d=sender.interop.test s=s1
# 127.0.0.9:2525 the embedded MTA of send-test --receive
for a in 127.0.0.8:587 127.0.0.9:8891 127.0.0.9:2525; do
	if (exec 3<>"/dev/tcp/${a%:*}/${a#*:}") 2>/dev/null; then fail "$a is taken"; fi
done
echo "== mta-interop: $(postconf -d mail_version), OpenDKIM $(opendkim -V | head -1 | awk '{print $NF}') and mailcheck send-test"
chmod 755 "$tmp"
pf="$tmp/postfix"
mkdir -p "$pf/queue" "$pf/data" "$pf/sasl" "$tmp/dkim" "$tmp/other"
# The submission certificate, for the address send-test dials.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mailcheck interop CA" \
	-keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.8" -keyout "$pf/sub.key" -out "$tmp/sub.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.8\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/sub.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
	-extfile "$tmp/ext" -out "$pf/sub.crt" 2>/dev/null
# DKIM keys: the one OpenDKIM signs with, and another for the wrong record.
opendkim-genkey -D "$tmp/dkim" -d sender.interop.test -s s1 -b 2048
opendkim-genkey -D "$tmp/other" -d sender.interop.test -s s1 -b 2048
chown -R opendkim "$tmp/dkim" 2>/dev/null || true
# zone SPF KEYFILE: the zone of sender.interop.test for the judges.
zone() {
	cat <<ZONE
\$ORIGIN sender.interop.test.
@ 300 IN SOA ns hostmaster 1 3600 600 86400 300
@ 300 IN NS ns
@ 300 IN TXT "$1"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
ZONE
	cat "$2"
}
zone "v=spf1 ip4:127.0.0.8 -all" "$tmp/dkim/s1.txt" >"$tmp/good.zone"
zone "v=spf1 ?all" "$tmp/other/s1.txt" >"$tmp/wrong.zone"

cat >"$tmp/opendkim.conf" <<CONF
Syslog no
LogWhy yes
Mode s
Socket inet:8891@127.0.0.9
Domain sender.interop.test
Selector s1
KeyFile $tmp/dkim/s1.private
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
InternalHosts 127.0.0.0/8
PidFile $tmp/opendkim.pid
Background no
RequireSafeKeys false
CONF
opendkim -f -x "$tmp/opendkim.conf" -l >"$tmp/opendkim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.9/8891) 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.9/8891) 2>/dev/null || fail "OpenDKIM does not listen: $(cat "$tmp/opendkim.log")"

cat >"$pf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = $pf/postfix.log
maillog_file_prefixes = $tmp
syslog_name = postfix-mailcheck-mta-interop
myhostname = mx.sender.interop.test
mydomain = sender.interop.test
myorigin = sender.interop.test
mydestination =
relay_domains =
mynetworks = 127.255.255.254/32
inet_interfaces = loopback-only
inet_protocols = ipv4
biff = no
alias_maps =
alias_database =
relayhost =
# Only the sink domain goes anywhere: to the embedded MTA.
transport_maps = texthash:$pf/transport
default_transport = discard:mailcheck interop: no delivery
local_transport = error:mailcheck interop: no delivery
smtp_bind_address = 127.0.0.8
smtp_tls_security_level = may
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $pf/sasl
milter_default_action = tempfail
CONF
cat >"$pf/master.cf" <<CONF
127.0.0.8:submission inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_cert_file=$pf/sub.crt
  -o smtpd_tls_key_file=$pf/sub.key
  -o smtpd_milters=inet:127.0.0.9:8891
$(sed -n '/^pickup/,$p' testdata/interop/master.cf.tmpl)
CONF
# The two lines of docs/sendtest.md, as a texthash map (no postmap needed).
echo "sink.interop.test    smtp:[127.0.0.9]:2525" >"$pf/transport"
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s/sasldb2\nmech_list: PLAIN\n' "$pf" >"$pf/sasl/smtpd.conf"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$tmp/password"
saslpasswd2 -p -c -f "$pf/sasldb2" -u mx.sender.interop.test alice <"$tmp/password"
chown postfix "$pf/sasldb2"
chmod 600 "$tmp/password"
postfix -c "$pf" set-permissions create-missing >/dev/null 2>&1 || true
postfix -c "$pf" check || fail "postfix check: $(cat "$pf/postfix.log" 2>/dev/null)"
postfix -c "$pf" start || fail "postfix start: $(cat "$pf/postfix.log" 2>/dev/null)"
postfix_dir=$pf
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.8/587) 2>/dev/null && break; sleep 0.1; done

# send_test ZONE NAME: the loopback send test; its exit code is returned.
send_test() {
	local code=0
	"$mc" send-test --via 127.0.0.8:587 --ca-file "$tmp/ca.pem" --auth-user alice@mx.sender.interop.test \
		--auth-password-file "$tmp/password" --from alice@sender.interop.test --helo client.sender.interop.test \
		--receive --listen 127.0.0.9:2525 --hostname sink.interop.test --wait 60s \
		--offline --zone "$1" --trace >"$tmp/$2.out" 2>"$tmp/$2.err" || code=$?
	if grep -q -F -f "$tmp/password" "$tmp/$2.out" "$tmp/$2.err"; then fail "$2: the password is in the output"; fi
	return "$code"
}
# has NAME LINE...: the report of run NAME holds every LINE.
has() {
	local name=$1
	shift
	for l in "$@"; do
		grep -q -- "$l" "$tmp/$name.out" || fail "$name: no '$l' in:
$(cat "$tmp/$name.out" "$tmp/$name.err")
postfix log:
$(tail -20 "$pf/postfix.log")
opendkim log:
$(tail -20 "$tmp/opendkim.log")"
	done
	echo "   ok  $name: $*"
}
code=0
send_test "$tmp/good.zone" good || code=$?
has good "pass  submit.tls-ok" "pass  submit.cert-ok" "pass  submit.auth-after-tls" "pass  submit.auth-ok" \
	"pass  submit.accepted" "pass  msg.dkim-pass  DKIM signature d=sender.interop.test s=s1" \
	"pass  msg.spf-pass" "pass  msg.dmarc-pass" "pass  msg.tls-ok" "client:    127.0.0.8"
[ "$code" -eq 0 ] || fail "good: send-test exit $code, want 0: $(cat "$tmp/good.out" "$tmp/good.err")"
code=0
send_test "$tmp/wrong.zone" wrong || code=$?
has wrong "pass  submit.accepted" "fail  msg.dkim-fail" "fail  msg.dmarc-fail"
[ "$code" -eq 1 ] || fail "wrong: send-test exit $code, want 1"
echo "   ok  send-test through Postfix + OpenDKIM: exit 0 with the right key record, exit 1 with the wrong one"
