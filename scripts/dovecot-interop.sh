#!/usr/bin/env bash
# The imap and pop3 checks against a real Dovecot (Debian's dovecot-imapd
# and dovecot-pop3d, installed when missing without starting the system's
# own instance). Two instances, each with its own configuration under a
# temporary directory:
#   127.0.0.6  done right: ssl = required, disable_plaintext_auth = yes,
#              143/110 with STARTTLS/STLS and 993/995, a certificate from
#              a CA the audit trusts (--ca-file);
#   127.0.0.7  done wrong: plaintext authentication allowed before TLS,
#              a self-signed certificate.
# Runs the mailcheck binary (--format json) against each and asserts the
# findings, then stops exactly the two Dovecot masters it started.
# Needs root (ports 110 and 143). Nobody can log in: no user exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
	echo "dovecot-interop: needs root (Dovecot listens on ports 110 and 143)" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/mailcheck-dovecot.XXXXXX)
chmod 755 "$dir" # the login processes (user dovenull) reach their sockets
pids=()
policy=/usr/sbin/policy-rc.d
created_policy=""
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	if [ -n "$created_policy" ]; then rm -f "$policy"; fi
	rm -rf "$dir"
}
trap cleanup EXIT

if ! command -v dovecot >/dev/null 2>&1 || [ ! -e /usr/lib/dovecot/imap-login ] || [ ! -e /usr/lib/dovecot/pop3-login ]; then
	echo "== dovecot-interop: installing dovecot-imapd and dovecot-pop3d"
	# Keep the package from starting the system instance (it would take
	# 110, 143, 993 and 995 on every address).
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd dovecot-pop3d >/dev/null
fi
echo "== dovecot-interop: dovecot $(dovecot --version)"

# Certificates: a CA the audit trusts and the right instance's certificate
# for 127.0.0.6; a self-signed one for the wrong instance.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=mailcheck interop CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
	-keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.6" \
	-keyout "$dir/right.key" -out "$dir/right.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.6\nextendedKeyUsage=serverAuth\n' >"$dir/right.ext"
openssl x509 -req -in "$dir/right.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
	-extfile "$dir/right.ext" -out "$dir/right.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=127.0.0.7" \
	-addext "subjectAltName=IP:127.0.0.7" -keyout "$dir/wrong.key" -out "$dir/wrong.crt" 2>/dev/null
chmod 644 "$dir"/*.key

# instance NAME ADDRESS SSL PLAINTEXT_DISABLED: writes NAME.conf and starts it.
instance() {
	local name=$1 addr=$2 ssl=$3 noplain=$4 d="$dir/$1"
	mkdir -p "$d/run" "$d/state"
	chmod 755 "$d" "$d/run"
	cat >"$dir/$name.conf" <<-EOF
		base_dir = $d/run
		state_dir = $d/state
		log_path = $d/log
		protocols = imap pop3
		listen = $addr
		ssl = $ssl
		ssl_cert = <$dir/$name.crt
		ssl_key = <$dir/$name.key
		ssl_dh = </usr/share/dovecot/dh.pem
		disable_plaintext_auth = $noplain
		auth_mechanisms = plain login
		passdb {
		  driver = static
		  args = nopassword=n password=* 
		}
		userdb {
		  driver = static
		  args = uid=nobody gid=nogroup home=/nonexistent
		}
		service imap-login {
		  inet_listener imap {
		    port = 143
		  }
		  inet_listener imaps {
		    port = 993
		    ssl = yes
		  }
		}
		service pop3-login {
		  inet_listener pop3 {
		    port = 110
		  }
		  inet_listener pop3s {
		    port = 995
		    ssl = yes
		  }
		}
	EOF
	dovecot -c "$dir/$name.conf"
	for _ in $(seq 50); do [ -s "$d/run/master.pid" ] && break; sleep 0.1; done
	pids+=("$(cat "$d/run/master.pid")")
	for port in 143 993 110 995; do
		for _ in $(seq 50); do (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && break; sleep 0.1; done
	done
}
instance right 127.0.0.6 required yes
instance wrong 127.0.0.7 yes no

printf '$ORIGIN interop.test.\n$TTL 300\n@ IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ IN NS ns\nns IN A 192.0.2.53\n' >"$dir/interop.zone"
go build -o bin/mailcheck ./cmd/mailcheck

# audit ADDRESS: the JSON report of the imap and pop3 checks.
audit() {
	./bin/mailcheck --zone "$dir/interop.zone" --checks imap,pop3 --imap-host "$1" --pop3-host "$1" \
		--ca-file "$dir/ca.crt" --probe-timeout 5s --format json interop.test || true
}

# expect NAME JSON WANT: the sorted "severity id" lines of the findings
# equal WANT.
failed=0
expect() {
	local got
	got=$(jq -r '.checks[].findings[] | "\(.severity) \(.id)"' <<<"$2" | sort | uniq -c | awk '{print $2, $3, "x" $1}')
	if [ "$got" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1"
		diff <(echo "$3") <(echo "$got") | sed 's/^/     /' || true
		jq -r '.checks[].findings[] | "  \(.id): \(.message)"' <<<"$2"
		failed=1
	fi
}

right=$(audit 127.0.0.6)
expect "127.0.0.6 done right" "$right" "$(
	cat <<-EOF
		pass imap.implicit-tls x1
		pass imap.ok x2
		pass imap.starttls x1
		pass imap.tls-ok x2
		pass pop3.implicit-tls x1
		pass pop3.ok x2
		pass pop3.stls x1
		pass pop3.tls-ok x2
	EOF
)"
wrong=$(audit 127.0.0.7)
expect "127.0.0.7 done wrong" "$wrong" "$(
	cat <<-EOF
		fail imap.cleartext-auth x1
		fail imap.tls-cert-untrusted x2
		fail pop3.cleartext-auth x1
		fail pop3.tls-cert-untrusted x2
		pass imap.implicit-tls x1
		pass imap.ok x2
		pass pop3.implicit-tls x1
		pass pop3.ok x2
	EOF
)"
# No password was sent: the transcripts hold no LOGIN, AUTHENTICATE,
# USER or PASS command.
if jq -r '.checks[].data[].transcript[]' <<<"$right$wrong" | grep -Eiq '^> (a[0-9]+ )?(login|authenticate|user|pass|auth) '; then
	echo "FAIL a credential command was sent"
	failed=1
else
	echo "ok   no credential command sent"
fi
exit $failed
