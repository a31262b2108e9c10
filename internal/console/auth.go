package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"strings"

	"github.com/kinflow/kinflow/internal/config"
)

// cookieName holds a digest of the token, never the token itself, so a stolen cookie jar does not reveal it.
const cookieName = "kinflow_console"

// guard admits a request that carries the token: "Authorization: Bearer <token>", the cookie set by an earlier
// "?token=<token>", or that query parameter, which sets the cookie and redirects to the same address without it (so
// the token leaves the address bar and the history). Without a token configured the console is loopback only, and
// guard refuses a Host that is not loopback: a page of another site cannot reach it by rebinding a name to 127.0.0.1.
func (s *Server) guard(h http.Handler) http.Handler {
	want := s.cfg.Token
	digest := cookieDigest(want)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want == "" {
			if !loopbackHost(r.Host) {
				writeError(w, &apiError{Status: http.StatusForbidden, Msg: "the console answers loopback host names only (set KINFLOW_CONSOLE_TOKEN to serve others)"})
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if t := r.URL.Query().Get("token"); t != "" && r.Method == http.MethodGet {
			if !equal(t, want) {
				unauthorized(w)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: digest, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			u := *r.URL
			q := u.Query()
			q.Del("token")
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(bearer, want) {
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(cookieName); err == nil && equal(c.Value, digest) {
			h.ServeHTTP(w, r)
			return
		}
		unauthorized(w)
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="kinflow console"`)
	writeError(w, &apiError{Status: http.StatusUnauthorized,
		Msg: "a token is required: open the console's address with ?token=<KINFLOW_CONSOLE_TOKEN> once, or send Authorization: Bearer <token>"})
}

// equal compares in constant time, so the answer's timing does not tell how much of a guess was right.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func cookieDigest(token string) string {
	sum := sha256.Sum256([]byte("kinflow-console-cookie\x00" + token))
	return hex.EncodeToString(sum[:])
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return config.LoopbackHost(strings.Trim(host, "[]"))
}
