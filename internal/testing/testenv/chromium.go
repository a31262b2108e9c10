package testenv

import (
	"os/exec"
	"testing"
)

// Browser is headless Chromium, which scripts/services.sh installs as its service "browser" (Debian's chromium
// package). It is a program each test starts, not a server, so it is looked up on PATH instead of dialled, and
// it has no address: pass it to Chromium, not to URL.
var Browser = Service{Name: "browser"}

// chromiumNames are the names Chromium goes by on PATH: Debian's package, then Ubuntu's and other distributions'.
var chromiumNames = []string{"chromium", "chromium-browser"}

// Chromium returns the path of the Chromium binary. When there is none it fails or skips tb as URL does for a
// server that does not answer (see the package doc), naming the command that installs it.
func Chromium(tb testing.TB) string {
	tb.Helper()
	path, msg, fail := chromiumVerdict(exec.LookPath, testing.Short())
	if fail {
		tb.Fatal(msg)
	} else if msg != "" {
		tb.Skip(msg)
	}
	return path
}

// chromiumVerdict is verdict for the browser: its path, or why not and whether that is a failure. lookPath is
// exec.LookPath outside its tests.
func chromiumVerdict(lookPath func(string) (string, error), short bool) (path, msg string, fail bool) {
	if short {
		return "", shortMsg(Browser), false
	}
	for _, name := range chromiumNames {
		if p, err := lookPath(name); err == nil {
			return p, "", false
		}
	}
	msg, fail = missing(Browser, "chromium is not installed (no chromium or chromium-browser on PATH); "+
		"install it with: scripts/services.sh install browser")
	return "", msg, fail
}
