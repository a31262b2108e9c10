package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChromiumVerdict: what a browser test gets, by -short, by what is on PATH and by what the environment
// requires. PATH is faked, so it needs no Chromium.
func TestChromiumVerdict(t *testing.T) {
	on := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	tests := []struct {
		name     string
		path     []string
		short    bool
		ci, req  string
		wantPath string
		wantMsg  string // a part of the message; "" for none
		wantFail bool
	}{
		{"short skips an installed one", []string{"chromium"}, true, "", "", "", "-short skips", false},
		{"short wins over CI", nil, true, "true", "all", "", "-short skips", false},
		{"Debian's name", []string{"chromium"}, false, "true", "all", "/usr/bin/chromium", "", false},
		{"the other name", []string{"chromium-browser"}, false, "", "", "/usr/bin/chromium-browser", "", false},
		{"Debian's first", []string{"chromium-browser", "chromium"}, false, "", "", "/usr/bin/chromium", "", false},
		{"missing, not required", nil, false, "", "", "", "install it with: scripts/services.sh install browser", false},
		{"missing, CI", nil, false, "true", "", "", "chromium is not installed", true},
		{"missing, required by name", nil, false, "", "moto, browser", "", "chromium is not installed", true},
		{"missing, all required", nil, false, "", "all", "", "chromium is not installed", true},
		{"missing, another required", nil, false, "", "elasticsearch", "", "to make this a failure", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv(RequireEnv, tt.req)
			path, msg, fail := chromiumVerdict(on(tt.path...), tt.short)
			if path != tt.wantPath || fail != tt.wantFail || tt.wantMsg == "" && msg != "" || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("chromiumVerdict = %q, %q, fail %v; want %q, a message with %q, fail %v",
					path, msg, fail, tt.wantPath, tt.wantMsg, tt.wantFail)
			}
		})
	}
}

// TestArtifacts: a folder per test, subtests below their parent, under ArtifactsEnv or the repository's .cache.
func TestArtifacts(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		t.Setenv(ArtifactsEnv, "")
		dir := Artifacts(t)
		want, err := filepath.Abs(filepath.Join("..", "..", "..", ".cache", "artifacts", "TestArtifacts", "default"))
		if err != nil {
			t.Fatal(err)
		}
		if dir != want {
			t.Errorf("Artifacts = %s, want %s", dir, want)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("%s was not made: %v", dir, err)
		}
	})
	t.Run(`set: "odd" name`, func(t *testing.T) {
		base := t.TempDir()
		t.Setenv(ArtifactsEnv, base)
		if got, want := Artifacts(t), filepath.Join(base, "TestArtifacts", "set___odd__name"); got != want {
			t.Errorf("Artifacts = %s, want %s", got, want)
		}
	})
}
