#!/usr/bin/env bash
# make interop: mailcheck's smtp and tls checks against a real Postfix.
# Installs Debian's postfix (and the Cyrus SASL mechanisms for AUTH) when
# missing, without letting the package start the system's own instance,
# then runs the Go test behind the `interop` build tag, which starts Postfix
# with its own configuration under a temporary directory on 127.0.0.2-5,
# runs the mailcheck binary against it and stops exactly that instance.
# Needs root (port 25). Postfix can deliver nothing off the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
	echo "interop: needs root (Postfix listens on port 25)" >&2
	exit 1
fi

have_sasl_plain() { compgen -G '/usr/lib/*/sasl2/libplain.so*' >/dev/null; }
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh # apt_install, $policy, $created_policy (the working directory is the repository)
cleanup() { if [ -n "$created_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

if ! command -v postfix >/dev/null 2>&1 || ! have_sasl_plain; then
	# Keep the package from starting the system instance (it would take
	# port 25 on every address): apt_install forbids service starts.
	echo "== interop: installing postfix"
	apt_install postfix libsasl2-modules
fi
# -d: the built-in default, which needs no main.cf. "No configuration"
# installs none in /etc/postfix, and the test runs Postfix with its own
# configuration directory (postfix -c), so nothing here may read the
# system's main.cf.
echo "== interop: $(postconf -d mail_version)"

go build -o bin/mailcheck ./cmd/mailcheck
MAILCHECK_BIN="$PWD/bin/mailcheck" go test -tags interop -count=1 -run 'Interop' -v ./internal/smtptest/
