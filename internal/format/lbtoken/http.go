package lbtoken

import "bytes"

// A Request is the parts of a request line, "GET https://www.example.com:443/p?q=1 HTTP/1.1", each nil when the
// line does not have it. Splitting never fails: the request line is what the client sent, and a client that sends
// garbage ("- http://host:80- -", as AWS logs a request it could not parse) still made a request worth keeping.
type Request struct {
	Method []byte // GET
	URL    []byte // https://www.example.com:443/p?q=1
	Proto  []byte // HTTP/1.1
	Scheme []byte // https
	Domain []byte // www.example.com (an IPv6 address without its brackets)
	Port   int    // 443; 0 when absent or not a number
	Path   []byte // /p
	Query  []byte // q=1 (without the '?')
}

// ParseRequest splits a request line at its first and last spaces (the URL cannot hold one, but a client may send
// one anyway: it stays in the URL) and the URL into its parts. A "-" part is absent: a TCP listener of a classic
// ELB writes "- - - ".
func ParseRequest(line []byte, r *Request) {
	*r = Request{}
	line = bytes.TrimRight(line, " ")
	if len(line) == 0 {
		return
	}
	first := bytes.IndexByte(line, ' ')
	if first < 0 {
		r.URL = dash(line)
	} else {
		r.Method = dash(line[:first])
		rest := line[first+1:]
		if last := bytes.LastIndexByte(rest, ' '); last >= 0 {
			r.URL, r.Proto = dash(rest[:last]), dash(rest[last+1:])
		} else {
			r.URL = dash(rest)
		}
	}
	parseURL(r.URL, r)
}

func dash(b []byte) []byte {
	if len(b) == 0 || len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// parseURL splits an absolute URL (the load balancers log scheme://host:port/path?query) or an origin-form one
// (/path?query).
func parseURL(u []byte, r *Request) {
	if len(u) == 0 {
		return
	}
	rest := u
	if i := bytes.Index(u, []byte("://")); i > 0 {
		r.Scheme = u[:i]
		rest = u[i+3:]
		end := len(rest)
		if j := bytes.IndexAny(rest, "/?#"); j >= 0 {
			end = j
		}
		host := rest[:end]
		rest = rest[end:]
		r.Domain, r.Port = splitHost(host)
	}
	if i := bytes.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	if i := bytes.IndexByte(rest, '?'); i >= 0 {
		r.Query = rest[i+1:]
		if len(r.Query) == 0 {
			r.Query = nil
		}
		rest = rest[:i]
	}
	if len(rest) > 0 {
		r.Path = rest
	}
}

// splitHost splits host[:port]; [v6]:port loses its brackets. A port that is not a number is dropped, the host
// kept.
func splitHost(h []byte) ([]byte, int) {
	if i := bytes.LastIndexByte(h, '@'); i >= 0 { // user info is no part of the domain
		h = h[i+1:]
	}
	if len(h) > 0 && h[0] == '[' {
		end := bytes.IndexByte(h, ']')
		if end < 0 {
			return dash(h), 0
		}
		domain := h[1:end]
		port := 0
		if len(h) > end+2 && h[end+1] == ':' {
			if p, ok := ParseUint(h[end+2:]); ok && p <= 65535 {
				port = int(p)
			}
		}
		return dash(domain), port
	}
	// One colon: host:port; more is a bare IPv6 address, which has no port.
	if i := bytes.IndexByte(h, ':'); i >= 0 && bytes.IndexByte(h[i+1:], ':') < 0 {
		port := 0
		if p, ok := ParseUint(h[i+1:]); ok && p <= 65535 {
			port = int(p)
		}
		return dash(h[:i]), port
	}
	return dash(h), 0
}

// HTTPVersion returns the version of a request line's protocol, "1.1" of "HTTP/1.1", as ECS's http.version wants
// it; nil when proto is not HTTP/<version>.
func HTTPVersion(proto []byte) []byte {
	if len(proto) > 5 && bytes.HasPrefix(proto, []byte("HTTP/")) {
		return proto[5:]
	}
	return nil
}

// TLSVersion returns ECS's tls.version_protocol and tls.version of a protocol as the load balancers name it:
// TLSv1.2 (ALB, classic ELB), tlsv12 (NLB), SSLv3; ok is false for a name it does not know.
func TLSVersion(name []byte) (protocol, version string, ok bool) {
	switch string(name) { // no allocation: the compiler compares without converting
	case "TLSv1", "TLSv1.0", "tlsv10", "tlsv1":
		return "tls", "1.0", true
	case "TLSv1.1", "tlsv11":
		return "tls", "1.1", true
	case "TLSv1.2", "tlsv12":
		return "tls", "1.2", true
	case "TLSv1.3", "tlsv13":
		return "tls", "1.3", true
	case "SSLv3", "SSLv3.0", "sslv3":
		return "ssl", "3.0", true
	case "SSLv2", "sslv2":
		return "ssl", "2.0", true
	}
	return "", "", false
}
