#!/usr/bin/env bash
# make interop: mailcheck's MTA-STS policy reading against the policy
# code of postfix-mta-sts-resolver (Debian package; the oracle). Installs
# the package when missing, without letting it start its daemon
# (policy-rc.d), then runs the Go test behind the `interop` build tag
# (checks/mtasts_interop_test.go), which runs the resolver's own resolve()
# on every policy the mtasts tests serve (scripts/mtasts-interop.py, with
# Debian's python3) and compares valid/invalid, mode, mx and max_age with
# mailcheck's. Starts no daemon and opens no port.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:$PATH"
PYTHON=/usr/bin/python3 # Debian's, which has the package's module

policy=/usr/sbin/policy-rc.d
created_policy=""
cleanup() { if [ -n "$created_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

if ! "$PYTHON" -c 'import postfix_mta_sts_resolver.resolver' 2>/dev/null; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "mtasts-interop: postfix-mta-sts-resolver is missing and installing it needs root" >&2
		exit 1
	fi
	echo "== mtasts-interop: installing postfix-mta-sts-resolver"
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix-mta-sts-resolver >/dev/null
	cleanup
	created_policy=""
fi
echo "== mtasts-interop: postfix-mta-sts-resolver $(dpkg-query -W -f '${Version}' postfix-mta-sts-resolver), $("$PYTHON" --version)"
MTASTS_ORACLE_PYTHON="$PYTHON" go test -tags interop -count=1 -run 'InteropMTASTS' -v ./checks/
echo "== mtasts-interop: passed in ${SECONDS}s"
