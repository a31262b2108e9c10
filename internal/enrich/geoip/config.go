// config.go owns the package's configuration: where the databases come from, defaults, limits and Validate.

package geoip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// A LoadFunc fetches a database the caller keeps somewhere else than a local file (S3, say). It returns the bytes
// of the .mmdb and a version (an ETag, an S3 version id, a checksum) that changes when the bytes do.
//
// When version equals that of the database in use, data is ignored and may be nil: a loader that remembers its last
// ETag can answer a HEAD or a 304 without downloading. An error keeps the database in use.
type LoadFunc func(ctx context.Context) (data []byte, version string, err error)

// Bytes returns a LoadFunc of a database already in memory; it never changes, so it is never reloaded.
func Bytes(data []byte) LoadFunc {
	return func(context.Context) ([]byte, string, error) { return data, "bytes", nil }
}

// ReaderAt returns a LoadFunc that reads size bytes of r once; the database is held in memory and never reloaded.
func ReaderAt(r io.ReaderAt, size int64) LoadFunc {
	return func(context.Context) ([]byte, string, error) {
		if size <= 0 || size > MaxDatabaseBytes {
			return nil, "", fmt.Errorf("size %d: want 1 to %d bytes", size, int64(MaxDatabaseBytes))
		}
		data := make([]byte, size)
		if _, err := r.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, "", err
		}
		return data, "reader", nil
	}
}

// Database says where one database comes from: a file (Path) or a loader (Load), never both; neither means the
// database is not used.
type Database struct {
	// Path is a .mmdb file, read whole into memory and read again when its size or modification time changes.
	// Replace it by renaming a complete file over it: a reload that reads a half-written file fails and keeps
	// the database in use, and succeeds at the next check after the write ends.
	Path string
	// Load fetches the database; it is called at every check and the database is reloaded when the version it
	// returns changes.
	Load LoadFunc
	// Name names a loaded database in errors and logs (s3://bucket/key); a file is named by its Path.
	Name string
}

func (d Database) used() bool { return d.Path != "" || d.Load != nil }

func (d Database) name() string {
	if d.Path != "" {
		return d.Path
	}
	return d.Name
}

// Config configures a DB. Start from DefaultConfig and set City, ASN or both.
type Config struct {
	// City is a City or Country database (GeoLite2-City, GeoIP2-Country, ...): country, continent, and for City
	// databases region, city and location.
	City Database
	// ASN is an ASN database (GeoLite2-ASN, GeoIP2-ISP): autonomous system number and organization.
	ASN Database
	// Language picks the names of countries, regions and cities; a record without a name in it falls back to
	// English. One of Languages.
	Language string
	// ReloadInterval is the time between two checks of every database by Run; 0 never checks (the databases
	// are fixed for the life of the DB, or the caller calls Check itself).
	ReloadInterval time.Duration
	// CacheEntries is the number of addresses cached in front of each database, a power of two. The cache is
	// direct-mapped: an address evicts the one of the same slot. BenchmarkCacheMemory measures the worst case,
	// every address in a network of its own record: about 430 bytes per cached address, both databases together
	// (a slot and an entry per database, the decoded records, their map and interned names), so 27 MB for the
	// default 65,536. Real traffic is far below that, since many addresses share a record (a city, an AS). The
	// decoded records are dropped from their map when it reaches CacheEntries, so an adversarial stream can at
	// most double the records' share, never grow without bound.
	CacheEntries int
}

// Languages are the locales of MaxMind's names.
var Languages = []string{"de", "en", "es", "fr", "ja", "pt-BR", "ru", "zh-CN"}

// Bounds of the configuration.
const (
	// MinReloadInterval keeps Run from stat'ing a file or calling a loader (an S3 request) in a tight loop.
	MinReloadInterval = time.Second
	MinCacheEntries   = 1 << 4
	MaxCacheEntries   = 1 << 24
	// MaxDatabaseBytes bounds a database read into memory; GeoIP2-City, the largest, is about 130 MB.
	MaxDatabaseBytes = 1 << 30
)

// DefaultConfig returns the defaults: no database, English names, a check every minute, 65,536 cached addresses
// per database.
func DefaultConfig() Config {
	return Config{Language: "en", ReloadInterval: time.Minute, CacheEntries: 1 << 16}
}

// Validate reports every problem of the configuration at once, wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !c.City.used() && !c.ASN.used() {
		bad("no database: want City, ASN or both, each a Path or a Load")
	}
	for _, d := range []struct {
		kind Kind
		db   Database
	}{{KindCity, c.City}, {KindASN, c.ASN}} {
		switch {
		case d.db.Path != "" && d.db.Load != nil:
			bad("%s: both Path %q and Load: want one", d.kind, d.db.Path)
		case d.db.Load != nil && d.db.Name == "":
			bad("%s: Load without a Name: want one for errors and logs, such as s3://bucket/key", d.kind)
		case d.db.Path == "" && d.db.Load == nil && d.db.Name != "":
			bad("%s: Name %q without a Path or Load", d.kind, d.db.Name)
		}
	}
	if c.City.Path != "" && c.City.Path == c.ASN.Path {
		bad("City and ASN are the same file %q: a database has one type", c.City.Path)
	}
	if !slices.Contains(Languages, c.Language) {
		bad("language %q: allowed %s", c.Language, strings.Join(Languages, ", "))
	}
	if c.ReloadInterval != 0 && c.ReloadInterval < MinReloadInterval {
		bad("reload interval %v: 0 (never) or at least %v", c.ReloadInterval, MinReloadInterval)
	}
	if c.CacheEntries < MinCacheEntries || c.CacheEntries > MaxCacheEntries || c.CacheEntries&(c.CacheEntries-1) != 0 {
		bad("cache entries %d: want a power of two from %d to %d", c.CacheEntries, MinCacheEntries, MaxCacheEntries)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
