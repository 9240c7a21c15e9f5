package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// startExporter runs serve's handler against the in-process DNS server.
func startExporter(t *testing.T, args ...string) (*exporter, *httptest.Server) {
	t.Helper()
	srv := startMX(t)
	f := &serveFlags{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse(append([]string{"--resolver", srv.Addr, "--timeout", "500ms"}, args...)); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	ex, err := newApp(&out, &errb).newExporter(f)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ex.handler())
	t.Cleanup(hs.Close)
	return ex, hs
}

func get(t *testing.T, url string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeProbe: a probe audits the target with the checks asked for
// and answers with its metrics; bad input is 400; /metrics counts.
func TestServeProbe(t *testing.T) {
	_, hs := startExporter(t)
	code, body := get(t, hs.URL+"/probe?target=ok.mx.test&checks=mx,ptr", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "10"})
	if code != 200 || !strings.Contains(body, `mailcheck_check_verdict{check="mx",domain="ok.mx.test",verdict="pass"} 1`) ||
		strings.Contains(body, `check="spf"`) {
		t.Fatalf("probe: %d\n%s", code, body)
	}
	promtool(t, body)
	for _, q := range []string{"", "?target=", "?target=192.0.2.1", "?target=bad..name", "?target=ok.mx.test&checks=nope", "?target=ok.mx.test&checks=mx,"} {
		if code, body := get(t, hs.URL+"/probe"+q, nil); code != http.StatusBadRequest {
			t.Errorf("/probe%s: %d %s, want 400", q, code, body)
		}
	}
	code, body = get(t, hs.URL+"/metrics", nil)
	if code != 200 || !strings.Contains(body, `mailcheck_serve_probes_total{result="ok"} 1`) ||
		!strings.Contains(body, `mailcheck_serve_probes_total{result="bad_request"} 6`) ||
		!strings.Contains(body, "mailcheck_serve_probes_in_flight 0") {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
}

// TestServeBusy: a probe beyond --concurrency gets 503.
func TestServeBusy(t *testing.T) {
	ex, hs := startExporter(t, "--concurrency", "1")
	ex.sem <- struct{}{} // a probe in flight
	code, _ := get(t, hs.URL+"/probe?target=ok.mx.test&checks=mx", nil)
	<-ex.sem
	if code != http.StatusServiceUnavailable {
		t.Errorf("busy probe: %d, want 503", code)
	}
}

// TestServeTimeout: the scrape header less the margin, capped by --max-timeout.
func TestServeTimeout(t *testing.T) {
	ex, _ := startExporter(t, "--max-timeout", "20s", "--timeout-margin", "1s")
	for hdr, want := range map[string]string{"": "20s", "10": "9s", "60": "20s", "0.5": "100ms", "junk": "20s"} {
		req := httptest.NewRequest("GET", "/probe", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", hdr)
		if got := ex.timeout(req).String(); got != want {
			t.Errorf("header %q: timeout %s, want %s", hdr, got, want)
		}
	}
}

// promtool checks an exposition with `promtool check metrics` when it
// is installed (Debian package prometheus; .ci/run installs it).
func promtool(t *testing.T, exposition string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool not installed: exposition not linted")
		return
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeListens: `mailcheck serve` binds a real listener on loopback,
// answers a probe, and returns when its context ends.
func TestServeListens(t *testing.T) {
	srv := startMX(t)
	var errb syncBuffer
	a := newApp(io.Discard, &errb)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() {
		done <- a.run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--resolver", srv.Addr, "--timeout", "500ms"})
	}()
	re := regexp.MustCompile(`serving on http://(\S+)/probe`)
	var addr string
	for i := 0; i < 500 && addr == ""; i++ {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			addr = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	if addr == "" {
		cancel()
		t.Fatalf("serve did not start: %s", errb.String())
	}
	code, body := get(t, "http://"+addr+"/probe?target=ok.mx.test&checks=mx", nil)
	if code != 200 || !strings.Contains(body, `mailcheck_score{domain="ok.mx.test"}`) {
		t.Errorf("probe: %d %s", code, body)
	}
	cancel()
	if rc := <-done; rc != exitOK {
		t.Errorf("serve exited %d: %s", rc, errb.String())
	}
}
