#!/usr/bin/env bash
# serve-interop: scrape a running `mailcheck serve` the way Prometheus
# does (scrape-timeout header, /probe and /metrics) and validate both
# expositions with promtool (Debian's prometheus package, installed by
# .ci/run). Serves the bundled example zone offline on 127.0.0.30 and
# stops exactly the exporter it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
command -v promtool >/dev/null || { echo "serve-interop: promtool missing (apt-get install prometheus)" >&2; exit 1; }
if ! command -v curl >/dev/null; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends curl >/dev/null
fi

go build -o bin/mailcheck ./cmd/mailcheck
tmp=$(mktemp -d)
addr=127.0.0.30:9725
./bin/mailcheck serve --listen "$addr" --offline \
	--zone testdata/zones/example.org.zone --zone testdata/zones/2.0.192.in-addr.arpa.zone \
	--zone testdata/zones/100.51.198.in-addr.arpa.zone --zone testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone \
	--dkim-selector mail2026 >"$tmp/serve.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM HUP

echo "== serve-interop: mailcheck serve on $addr (pid $pid)"
for _ in $(seq 50); do curl -fsS "http://$addr/metrics" >/dev/null 2>&1 && break; sleep 0.2; done
scrape() { curl -fsS -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' "http://$addr$1"; }

scrape '/probe?target=example.org&checks=mx,ptr,spf,dmarc,dkim,tlsrpt' >"$tmp/probe.prom"
promtool check metrics <"$tmp/probe.prom" || { echo "promtool refused /probe"; cat "$tmp/probe.prom"; exit 1; }
grep -q '^mailcheck_score{[^}]*domain="example.org"[^}]*} 97$' "$tmp/probe.prom" ||
	{ echo "no mailcheck_score 97 for example.org in /probe:"; grep mailcheck_score "$tmp/probe.prom"; exit 1; }
echo "ok   /probe: $(grep -c '^mailcheck_' "$tmp/probe.prom") series, promtool clean, score 97"

code=$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/probe?target=not..valid")
[ "$code" = 400 ] || { echo "bad target answered $code, want 400"; exit 1; }
echo "ok   bad target: 400"

scrape '/metrics' >"$tmp/metrics.prom"
promtool check metrics <"$tmp/metrics.prom" || { echo "promtool refused /metrics"; exit 1; }
grep -q '^mailcheck_serve_' "$tmp/metrics.prom" || { echo "no mailcheck_serve_ metrics"; exit 1; }
echo "ok   /metrics: promtool clean"
