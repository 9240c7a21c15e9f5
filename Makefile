GO ?= go
BIN ?= bin/mailcheck
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DEMO_ZONES = --zone testdata/zones/example.org.zone \
	--zone testdata/zones/2.0.192.in-addr.arpa.zone \
	--zone testdata/zones/100.51.198.in-addr.arpa.zone \
	--zone testdata/zones/5.2.0.0.8.b.d.0.1.0.0.2.ip6.arpa.zone

.PHONY: build test lint demo demo-all bench bench-scale fuzz docs interop

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/mailcheck

# The test command of README.md and .ci/run.
test:
	$(GO) test -race -shuffle=on -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Audit the bundled example zone, offline: the checks a zone file can
# answer (the others need the network; demo-all shows them not evaluated).
DEMO_CHECKS = mx,ptr,spf,dmarc,dkim,tlsrpt
demo: build
	./$(BIN) --offline $(DEMO_ZONES) --dkim-selector mail2026 --checks $(DEMO_CHECKS) example.org; echo "exit code: $$?"

demo-all: build
	./$(BIN) --offline $(DEMO_ZONES) --dkim-selector mail2026 example.org; echo "exit code: $$?"

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A bulk run of the DNS checks over the synthetic world of
# internal/benchworld: 1,000 domains at 0 and 20 ms per answer; wall,
# CPU, peak RSS, questions sent and distinct, domains/s (issue 16).
bench-scale:
	$(GO) run ./internal/benchworld/benchscale -n 1000 -delay 0,20ms

# Regenerate the finding catalogue.
docs: build
	./$(BIN) findings --format markdown > docs/findings.md

# Real peers (root; installs what is missing from Debian): the smtp and
# tls checks against Postfix, then the dnssec check against delv on a
# signed zone world served by Knot and validated by Unbound, the dane
# check against posttls-finger -l dane, the MTA-STS policies against
# postfix-mta-sts-resolver, the imap and pop3 checks against Dovecot, then
# swaks and Postfix with OpenDKIM against mailcheck mta and send-test,
# and promtool on a running mailcheck serve.
interop:
	bash scripts/interop.sh
	bash scripts/dnssec-interop.sh
	bash scripts/dane-interop.sh
	bash scripts/mtasts-interop.sh
	bash scripts/dovecot-interop.sh
	bash scripts/mta-interop.sh
	bash scripts/serve-interop.sh
