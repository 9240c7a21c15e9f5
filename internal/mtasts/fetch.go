package mtasts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// MaxBody is the largest policy file accepted (RFC 8461 §3.3 suggests
// senders limit it to 64 KiB).
const MaxBody = 64 << 10

// DefaultTimeout bounds a fetch when FetchConfig.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// WellKnown is the policy's path on the policy host.
const WellKnown = "/.well-known/mta-sts.txt"

// Dialer opens network connections (checks.Dialer).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// FailKind classifies why a fetch gave no policy.
type FailKind string

// The kinds of fetch failure, each its own finding.
const (
	FailNoHost      FailKind = "no-host"      // mta-sts.<domain> has no address (NXDOMAIN, no A/AAAA)
	FailNetwork     FailKind = "network"      // the host lookup or the connection failed, or every address is refused by the address policy
	FailTimeout     FailKind = "timeout"      // no answer within the timeout
	FailTLS         FailKind = "tls"          // the handshake failed or the certificate is not valid for the policy host
	FailStatus      FailKind = "status"       // an HTTP status other than 200 (and not a redirect)
	FailRedirect    FailKind = "redirect"     // a 3xx: senders follow no redirect
	FailSize        FailKind = "size"         // the body is larger than MaxBody
	FailContentType FailKind = "content-type" // the media type is not text/plain
)

// FetchError is why a fetch gave no policy.
type FetchError struct {
	Kind    FailKind `json:"kind"`
	Message string   `json:"message"`
	Err     error    `json:"-"`
}

func (e *FetchError) Error() string { return e.Message }
func (e *FetchError) Unwrap() error { return e.Err }

// FetchConfig is what a fetch needs; only Domain is required.
type FetchConfig struct {
	Domain string // the policy domain, an A-label name
	Dialer Dialer // nil: a net.Dialer
	// Lookup resolves the policy host to addresses; nil: the system
	// resolver. An error with no address is a FailNetwork, no address
	// and no error a FailNoHost.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// Refuse says why an address may not be dialled ("" when it may):
	// the caller's address policy (private and loopback ranges).
	Refuse  func(netip.Addr) string
	RootCAs *x509.CertPool // nil: the system roots
	Timeout time.Duration  // 0: DefaultTimeout; always inside ctx's deadline
}

// FetchResult is the outcome of one fetch.
type FetchResult struct {
	URL         string      `json:"url"`
	Addresses   []string    `json:"addresses"` // the addresses dialled, address:port
	Status      int         `json:"status,omitempty"`
	ContentType string      `json:"content_type,omitempty"`
	Body        string      `json:"body,omitempty"`
	Policy      *Policy     `json:"policy,omitempty"` // parsed when the fetch succeeded
	Err         *FetchError `json:"error,omitempty"`
}

// Host returns the policy host of domain.
func Host(domain string) string { return "mta-sts." + strings.TrimSuffix(domain, ".") }

// URL returns the policy URL of domain.
func URL(domain string) string { return "https://" + Host(domain) + WellKnown }

// Fetch fetches and parses the policy of cfg.Domain as a sender does
// (RFC 8461 §3.3): HTTPS with a certificate valid for mta-sts.<domain>,
// no redirect followed, no cache, HTTP 200 only, media type text/plain,
// at most MaxBody bytes, within the timeout.
func Fetch(ctx context.Context, cfg FetchConfig) *FetchResult {
	res := &FetchResult{URL: URL(cfg.Domain), Addresses: []string{}}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := &dialer{cfg: cfg}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:       d.dial,
			TLSClientConfig:   &tls.Config{ServerName: Host(cfg.Domain), RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.URL, nil)
	if err != nil {
		res.Err = &FetchError{Kind: FailNetwork, Message: err.Error(), Err: err}
		return res
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := client.Do(req)
	res.Addresses = d.tried()
	if err != nil {
		res.Err = d.classify(ctx, res.URL, err)
		return res
	}
	defer resp.Body.Close()
	readResponse(ctx, res, resp)
	return res
}

// readResponse judges the response and reads and parses the body.
func readResponse(ctx context.Context, res *FetchResult, resp *http.Response) {
	res.Status = resp.StatusCode
	res.ContentType = resp.Header.Get("Content-Type")
	at := res.URL + " (" + strings.Join(res.Addresses, ", ") + ")"
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = &FetchError{Kind: FailRedirect, Message: fmt.Sprintf("%s answered %s, a redirect to %q: senders follow no redirect (RFC 8461 §3.3)", at, resp.Status, resp.Header.Get("Location"))}
		return
	case resp.StatusCode != http.StatusOK:
		res.Err = &FetchError{Kind: FailStatus, Message: fmt.Sprintf("%s answered %s: senders accept only 200 OK (RFC 8461 §3.3)", at, resp.Status)}
		return
	}
	mt, _, err := mime.ParseMediaType(res.ContentType)
	if err != nil || mt != "text/plain" {
		res.Err = &FetchError{Kind: FailContentType, Message: fmt.Sprintf("%s is served as %q: the media type must be text/plain (RFC 8461 §3.2)", at, res.ContentType)}
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	switch {
	case len(body) > MaxBody:
		res.Err = &FetchError{Kind: FailSize, Message: fmt.Sprintf("%s is larger than %d bytes: senders stop reading at 64 KiB (RFC 8461 §3.3)", at, MaxBody)}
	case err != nil && ctx.Err() != nil:
		res.Err = &FetchError{Kind: FailTimeout, Message: fmt.Sprintf("%s: the body did not arrive in time: %v", at, err), Err: err}
	case err != nil:
		res.Err = &FetchError{Kind: FailNetwork, Message: fmt.Sprintf("%s: reading the body failed: %v", at, err), Err: err}
	default:
		res.Body = string(body)
		res.Policy = ParsePolicy(res.Body)
	}
}

// dialer resolves the policy host, applies the address policy and dials
// through the configured Dialer, keeping the addresses it tried.
type dialer struct {
	cfg     FetchConfig
	mu      sync.Mutex
	dialled []string
	noHost  bool
}

// dial implements http.Transport.DialContext.
func (d *dialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		if why := d.refuse(a); why != "" {
			errs = append(errs, fmt.Errorf("%s is a %s address, not contacted (see --allow-private)", a, why))
			continue
		}
		target := net.JoinHostPort(a.String(), port)
		d.mu.Lock()
		d.dialled = append(d.dialled, target)
		d.mu.Unlock()
		c, err := d.dialContext(ctx, network, target)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (d *dialer) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	var err error
	if d.cfg.Lookup != nil {
		addrs, err = d.cfg.Lookup(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if len(addrs) > 0 {
		return addrs, nil
	}
	if err == nil {
		d.mu.Lock()
		d.noHost = true
		d.mu.Unlock()
		err = fmt.Errorf("%s has no address (no A or AAAA record)", host)
	}
	return nil, err
}

func (d *dialer) refuse(a netip.Addr) string {
	if d.cfg.Refuse == nil {
		return ""
	}
	return d.cfg.Refuse(a)
}

func (d *dialer) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if d.cfg.Dialer != nil {
		return d.cfg.Dialer.DialContext(ctx, network, address)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

func (d *dialer) tried() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string{}, d.dialled...)
}

// classify turns a failed request into a FetchError naming the URL and
// the addresses tried.
func (d *dialer) classify(ctx context.Context, url string, err error) *FetchError {
	at := url
	if a := d.tried(); len(a) > 0 {
		at += " (" + strings.Join(a, ", ") + ")"
	}
	var cv *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	var alert tls.AlertError
	d.mu.Lock()
	noHost := d.noHost
	d.mu.Unlock()
	switch {
	case noHost:
		return &FetchError{Kind: FailNoHost, Message: fmt.Sprintf("%s: %s has no address (no A or AAAA record)", url, Host(d.cfg.Domain)), Err: err}
	case errors.As(err, &cv):
		return &FetchError{Kind: FailTLS, Message: fmt.Sprintf("%s: the certificate is not valid: %s", at, certProblem(cv.Err)), Err: err}
	case errors.As(err, &rec), errors.As(err, &alert), strings.Contains(err.Error(), "tls: "):
		return &FetchError{Kind: FailTLS, Message: fmt.Sprintf("%s: the TLS handshake failed: %v", at, unwrapURL(err)), Err: err}
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &FetchError{Kind: FailTimeout, Message: fmt.Sprintf("%s: no answer in time: %v", at, unwrapURL(err)), Err: err}
	}
	return &FetchError{Kind: FailNetwork, Message: fmt.Sprintf("%s: %v", at, unwrapURL(err)), Err: err}
}

// certProblem says in words why a certificate did not verify.
func certProblem(err error) string {
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return "it has expired or is not valid yet (" + inv.Error() + ")"
	case errors.As(err, &host):
		return host.Error()
	case errors.As(err, &unknown):
		return "it is not signed by a trusted authority (" + unknown.Error() + ")"
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURL drops the "Get <url>:" prefix of a *url.Error.
func unwrapURL(err error) error {
	if u := errors.Unwrap(err); u != nil {
		if _, ok := err.(interface{ Timeout() bool }); ok {
			return u
		}
	}
	return err
}
