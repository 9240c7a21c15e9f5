package checks

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mailcheck/mailcheck/internal/resolve"
	"github.com/mailcheck/mailcheck/internal/sanitize"
)

// MaxAutoconfigBytes bounds the autoconfig document mailcheck reads.
const MaxAutoconfigBytes = 64 << 10

// maxAutoconfigServers bounds the incoming servers taken from it.
const maxAutoconfigServers = 16

// autoconfig is what the client autoconfiguration document
// (https://autoconfig.DOMAIN/mail/config-v1.1.xml, the format Thunderbird
// and other mail clients read) says about incoming servers.
type autoconfig struct {
	URL     string
	Servers []incomingServer
	// Absent says there is no document (no such host, no HTTPS there,
	// 404); Problem says why one could not be used (a certificate that
	// does not verify, a redirect, a bad document); Failed says the
	// fetch was inconclusive (a lookup failure, a timeout).
	Absent  string
	Problem string
	Failed  string
}

// incomingServer is one <incomingServer> entry.
type incomingServer struct {
	Type       string `xml:"type,attr"`
	Hostname   string `xml:"hostname"`
	Port       int    `xml:"port"`
	SocketType string `xml:"socketType"`
}

// clientConfig is the document's structure, as far as mailcheck reads it.
type clientConfig struct {
	Providers []struct {
		Incoming []incomingServer `xml:"incomingServer"`
	} `xml:"emailProvider"`
}

// fetchAutoconfig fetches and parses the autoconfig document of the
// domain: through env.Dialer, to addresses the address policy allows,
// with the certificate verified against env.RootCAs, no redirect
// followed, at most MaxAutoconfigBytes read, under the probe timeout.
func fetchAutoconfig(ctx context.Context, env *Env) *autoconfig {
	host := "autoconfig." + env.Domain.ASCII
	ac := &autoconfig{URL: "https://" + host + "/mail/config-v1.1.xml"}
	addrs, ok := ac.addrs(ctx, env, host)
	if !ok {
		return ac
	}
	ctx, cancel := context.WithTimeout(ctx, env.probeTimeout())
	defer cancel()
	body, err := ac.get(ctx, env, host, addrs)
	if err != nil {
		ac.classify(err)
		return ac
	}
	ac.parse(body, env.Domain.ASCII)
	return ac
}

// addrs looks up the document's host; false when there is nothing to
// fetch from.
func (ac *autoconfig) addrs(ctx context.Context, env *Env, host string) ([]netip.Addr, bool) {
	r := resolve.Addrs(ctx, env.Resolver, host+".")
	var ok []netip.Addr
	for _, a := range r.Addrs {
		if _, skip := env.addrPolicy(a.Unmap()); !skip {
			ok = append(ok, a.Unmap())
		}
	}
	switch {
	case len(ok) > 0:
		return ok, true
	case len(r.Addrs) > 0:
		ac.Problem = fmt.Sprintf("%s has only private or special-purpose addresses: not fetched (use --allow-private)", host)
	case r.Err != nil:
		ac.Failed = fmt.Sprintf("the addresses of %s could not be looked up: %s", host, resolve.Describe(nil, r.Err))
	default:
		ac.Absent = fmt.Sprintf("%s has no address", host)
	}
	return nil, false
}

// errNotFound is a 404 or 410: no document.
var errNotFound = errors.New("not found")

// get fetches the document from addrs.
func (ac *autoconfig) get(ctx context.Context, env *Env, host string, addrs []netip.Addr) ([]byte, error) {
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var errs []error
		for _, a := range addrs {
			c, err := env.Dialer.DialContext(ctx, "tcp", netip.AddrPortFrom(a, 443).String())
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	client := &http.Client{
		Transport: &http.Transport{DialContext: dial, Proxy: nil, DisableKeepAlives: true, MaxResponseHeaderBytes: 16 << 10,
			TLSClientConfig: &tls.Config{RootCAs: env.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ac.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, errNotFound
	case resp.StatusCode/100 == 3:
		return nil, fmt.Errorf("it redirects (HTTP %d to %s), which mailcheck does not follow", resp.StatusCode, sanitize.Line(resp.Header.Get("Location"), 200))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("HTTP status %s", sanitize.Line(resp.Status, 100))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAutoconfigBytes+1))
	if err == nil && len(body) > MaxAutoconfigBytes {
		err = fmt.Errorf("the document is over %d bytes", MaxAutoconfigBytes)
	}
	return body, err
}

// classify files a failed fetch as absent, a problem or inconclusive.
func (ac *autoconfig) classify(err error) {
	var ne net.Error
	var cert *tls.CertificateVerificationError
	text := sanitize.Line(err.Error(), 400)
	switch {
	case errors.Is(err, errNotFound):
		ac.Absent = ac.URL + " answers 404"
	case errors.As(err, &cert):
		ac.Problem = fmt.Sprintf("%s: the certificate does not verify, so mail clients will not use it: %s", ac.URL, text)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.Canceled):
		ac.Failed = fmt.Sprintf("%s could not be fetched: %s", ac.URL, text)
	case strings.Contains(text, "refused"):
		ac.Absent = ac.URL + ": connection refused"
	default:
		ac.Problem = fmt.Sprintf("%s could not be used: %s", ac.URL, text)
	}
}

// parse reads the incoming servers of the document; %EMAILDOMAIN%
// stands for the domain.
func (ac *autoconfig) parse(body []byte, domain string) {
	var cc clientConfig
	if err := xml.Unmarshal(body, &cc); err != nil {
		ac.Problem = fmt.Sprintf("%s is not a client configuration document: %s", ac.URL, sanitize.Line(err.Error(), 200))
		return
	}
	for _, p := range cc.Providers {
		for _, s := range p.Incoming {
			if len(ac.Servers) == maxAutoconfigServers {
				return
			}
			s.Type = strings.ToLower(strings.TrimSpace(s.Type))
			s.Hostname = strings.TrimSpace(strings.ReplaceAll(s.Hostname, "%EMAILDOMAIN%", domain))
			s.SocketType = strings.ToUpper(strings.TrimSpace(s.SocketType))
			ac.Servers = append(ac.Servers, s)
		}
	}
}

// record renders an incoming server as evidence.
func (s incomingServer) record() string {
	return sanitize.Line(fmt.Sprintf("incomingServer type=%s hostname=%s port=%s socketType=%s", s.Type, s.Hostname, strconv.Itoa(s.Port), s.SocketType), MaxRecordBytes)
}
