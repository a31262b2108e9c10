// config.go owns the package's configuration: sources, defaults, limits and Validate.

package threat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format is how a list is written.
type Format string

// The formats. FormatAuto reads the first line with content: a comma-separated header that names an indicator
// column makes the list CSV, anything else is text.
const (
	FormatAuto Format = ""
	FormatText Format = "text" // one IP or CIDR per line; "#" comments; also Spamhaus DROP "1.2.3.0/24 ; SBL123"
	FormatCSV  Format = "csv"  // a header naming the indicator column, then one indicator per record
)

func (f Format) valid() bool { return f == FormatAuto || f == FormatText || f == FormatCSV }

// A LoadFunc fetches a list: its bytes and a version that changes whenever the bytes do (an S3 ETag or version
// ID, say). When version equals the one last loaded the list is not parsed again, so a loader that can tell
// cheaply (a HEAD request, a conditional GET) may return nil data with the old version. An empty version makes
// the Reloader hash the bytes instead.
type LoadFunc func(ctx context.Context) (data []byte, version string, err error)

// A Source is one named list: a file (Path) or anything a LoadFunc reads.
type Source struct {
	// Name names the list on every indicator from it (Indicator.List) and breaks ties between lists that hold
	// the same prefix: the name that sorts first wins.
	Name   string
	Path   string   // a file; it is re-read when its size or modification time changes
	Load   LoadFunc // or a loader; exactly one of Path and Load
	Format Format   // FormatAuto unless the list is ambiguous
}

// Config configures a Reloader. Start from DefaultConfig and add Sources.
type Config struct {
	// Sources are the lists. None is valid: the Set is then empty and matches nothing.
	Sources []Source
	// Interval is how often Run checks the sources for changes. Threat feeds change hourly or daily, so minutes
	// are plenty; each check of an unchanged file is a stat, of a loader whatever the loader does.
	Interval time.Duration
	// LoadTimeout bounds one source's load, so a hung S3 read cannot stall the reloads of the others.
	LoadTimeout time.Duration
	// MaxListBytes caps one list. The largest public IP feeds are a few MiB; a list far larger is a wrong object
	// and would cost memory in proportion, so it is refused.
	MaxListBytes int64
}

// Limits of the configuration values.
const (
	MinListBytes      = 1 << 10
	MaxListBytesLimit = 1 << 30
)

// DefaultConfig returns no sources, a check every 5 minutes, 1 minute per load and lists up to 64 MiB.
func DefaultConfig() Config {
	return Config{
		Interval:     5 * time.Minute,
		LoadTimeout:  time.Minute,
		MaxListBytes: 64 << 20,
	}
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("threat: Interval %v: want > 0", c.Interval))
	}
	if c.LoadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("threat: LoadTimeout %v: want > 0", c.LoadTimeout))
	}
	if c.MaxListBytes < MinListBytes || c.MaxListBytes > MaxListBytesLimit {
		errs = append(errs, fmt.Errorf("threat: MaxListBytes %d: allowed %d to %d", c.MaxListBytes, MinListBytes, MaxListBytesLimit))
	}
	seen := make(map[string]int, len(c.Sources))
	for i, s := range c.Sources {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("threat: Sources[%d]: Name is empty", i))
		case strings.TrimSpace(s.Name) != s.Name:
			errs = append(errs, fmt.Errorf("threat: Sources[%d]: Name %q has leading or trailing space", i, s.Name))
		}
		if j, dup := seen[s.Name]; dup && s.Name != "" {
			errs = append(errs, fmt.Errorf("threat: Sources[%d]: Name %q already used by Sources[%d]", i, s.Name, j))
		} else {
			seen[s.Name] = i
		}
		switch {
		case s.Path == "" && s.Load == nil:
			errs = append(errs, fmt.Errorf("threat: Sources[%d] %q: want a Path or a Load function", i, s.Name))
		case s.Path != "" && s.Load != nil:
			errs = append(errs, fmt.Errorf("threat: Sources[%d] %q: want a Path or a Load function, not both", i, s.Name))
		}
		if !s.Format.valid() {
			errs = append(errs, fmt.Errorf("threat: Sources[%d] %q: Format %q: allowed %q (auto), %q, %q",
				i, s.Name, s.Format, FormatAuto, FormatText, FormatCSV))
		}
	}
	return errors.Join(errs...)
}
