#!/usr/bin/env bash
# behaviour-cli BIN DIR: run BIN offline over every bundled zone and
# write each JSON and text report, with its exit code, under DIR
# (see behaviour-diff.sh).
set -uo pipefail
bin=${1:?}; dir=${2:?}
mkdir -p "$dir"
top=(--zone testdata/zones/example.org.zone --zone testdata/zones/2.0.192.in-addr.arpa.zone
	--zone testdata/zones/100.51.198.in-addr.arpa.zone --zone testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone)
run() { # run NAME ARGS...
	local name=$1; shift
	"$bin" --offline --no-color "$@" >"$dir/$name" 2>&1; echo "exit $?" >>"$dir/$name"
}
names() { # the owner names of a zone file that a user might audit
	awk -v o="$(awk 'toupper($1)=="$ORIGIN"{print $2; exit}' "$1")" '
		/^[ \t;$]/ || NF == 0 { next }
		{ n = $1; if (n == "@") n = o; else if (n !~ /\.$/) n = n "." o; print n }' "$1" |
		grep -v -e '^_' -e '\._' -e 'arpa\.$' -e '^\*' | sed 's/\.$//' | sort -u
}
run demo.json "${top[@]}" --dkim-selector mail2026 --format json example.org
run demo.txt "${top[@]}" --dkim-selector mail2026 example.org
for sub in dmarc dkim mx spf dnsbl; do
	zones=("${top[@]}")
	for f in testdata/zones/$sub/*.zone; do
		case $f in */zen-refused.zone) continue ;; esac
		zones+=(--zone "$f")
	done
	for f in testdata/zones/$sub/*.zone; do
		for d in $(names "$f"); do
			run "$sub-$d.json" "${zones[@]}" --format json "$d"
			run "$sub-$d.txt" "${zones[@]}" "$d"
			run "$sub-$d.private.json" "${zones[@]}" --allow-private --ip 192.0.2.10 --ip 2001:db8::10 --format json "$d"
		done
	done
done
for c in mx ptr spf dmarc dkim dnsbl smtp tls; do
	run "check-$c.json" "${top[@]}" --checks $c --format json example.org
done
run findings.md findings --format markdown
run findings.json findings --format json
