package sink

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// TLSConfig is the TLS part of a connection to a cluster.
type TLSConfig struct {
	// CACert is PEM: the certificate authorities to trust instead of the system's (self-managed clusters).
	CACert []byte
	// InsecureSkipVerify turns verification off; for local experiments only.
	InsecureSkipVerify bool
}

// HTTPTransport returns the http.Transport both clients use: enough idle connections per host for maxConns
// concurrent bulk requests (net/http keeps only 2 by default, so a busy sink would reconnect all the time), dial
// and TLS handshake timeouts, and the TLS settings.
func HTTPTransport(t TLSConfig, maxConns int) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxConns + 2
	tr.MaxIdleConns = 4 * (maxConns + 2)
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.ResponseHeaderTimeout = 0 // bounded by each request's context instead
	if len(t.CACert) > 0 || t.InsecureSkipVerify {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in
		if len(t.CACert) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(t.CACert) {
				return nil, fmt.Errorf("%w: CA certificate: no PEM certificate found", ErrInvalidConfig)
			}
			tc.RootCAs = pool
		}
		tr.TLSClientConfig = tc
	}
	return tr, nil
}

// Redacted is what String methods print in place of a secret that is set.
const Redacted = "[redacted]"

// RedactIfSet returns Redacted for a non-empty secret and "" for an empty one.
func RedactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return Redacted
}

// errNoAddresses is reported by ValidateConnection for a configuration without a cluster address.
var errNoAddresses = errors.New("no cluster address")

// RedactURLs returns the addresses with any password embedded in them hidden.
func RedactURLs(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a
		if u, err := url.Parse(a); err == nil && u.User != nil {
			out[i] = u.Redacted()
		}
	}
	return out
}

// ValidateConnection reports the problems every cluster client's configuration can have: no or malformed
// addresses, a password without a user, a sink whose dead-letter prefix is not the templates' prefix, and the
// problems of the sink and template configurations. Clients add their own checks.
func ValidateConnection(addrs []string, username, password string, sc Config, tc TemplateConfig) []error {
	var errs []error
	if len(addrs) == 0 {
		errs = append(errs, errNoAddresses)
	}
	for i, a := range addrs {
		if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("address %q: want http(s)://host[:port]", RedactURLs(addrs)[i]))
		}
	}
	if password != "" && username == "" {
		errs = append(errs, errors.New("password set without a username"))
	}
	if sc.Prefix != tc.Prefix {
		errs = append(errs, fmt.Errorf("sink prefix %q differs from template prefix %q", sc.Prefix, tc.Prefix))
	}
	if err := sc.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := tc.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errs
}
