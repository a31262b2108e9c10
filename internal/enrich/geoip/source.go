// source.go owns one database: where it comes from, opening and checking it, the generation in use with its
// caches, and reloading it when it changes.

package geoip

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// A Source is one database of a DB (City or ASN) and the version of it in use. Lookups read the version in use
// with one atomic load; Check and Reload open a new version beside it and swap it in, or keep it when the new one
// fails.
type Source struct {
	kind    Kind
	db      Database
	lang    string
	entries int
	log     *slog.Logger

	cur atomic.Pointer[generation]
	// swaps counts the databases swapped in: the version a cache of lookups compares (enrich.Versioned).
	swaps atomic.Uint64

	reloadMu sync.Mutex // one reload at a time; lookups never take it
	failed   origin     // the last origin that failed to open, not retried until it changes (guarded by reloadMu)

	reloads, failures, lookupErrors atomic.Uint64
	lastErr                         atomic.Pointer[error]
}

// origin identifies one version of a database: a file's size and modification time, or a loader's version.
type origin struct {
	size    int64
	modTime time.Time
	version string
}

// Metadata is what a database says of itself.
type Metadata struct {
	DatabaseType string    // GeoLite2-City
	BuildTime    time.Time // when the vendor built it
	IPVersion    uint      // 4: IPv4 only; 6: both
	Version      string    // the loader's version, or the file's size and modification time
	LoadedAt     time.Time
}

// SourceStats counts a Source's reloads since New.
type SourceStats struct {
	Reloads  uint64 // new versions swapped in
	Failures uint64 // versions that failed to open and were not swapped in
	// LookupErrors are lookups the database could not answer (a broken record or tree); each is answered false.
	LookupErrors uint64
	LastError    error // of the last failure; nil until one
}

// generation is one opened version of a database and the caches in front of it. It is never changed after it is
// stored, except through its caches, and is dropped whole by a reload: a cached answer never outlives its database.
type generation struct {
	reader   *maxminddb.Reader
	ipv4Only bool
	meta     Metadata
	origin   origin

	slots []atomic.Pointer[entry] // the address cache, len a power of two
	mask  uint64

	mu      sync.Mutex         // guards records and strings, on misses only
	records map[uintptr]record // decoded records by data-section offset: the networks of a record share it
	strings map[string]string  // interned names: "United States" is one string for the whole database
	maxRecs int                // records and strings are dropped when they reach it, to stay bounded
}

// entry is one cached address. Entries are immutable and swapped whole into a slot, so a reader sees a key and its
// answer together without a lock. An empty record caches "not in this database".
type entry struct {
	k   key
	rec record
}

func newSource(kind Kind, db Database, cfg Config, log *slog.Logger) *Source {
	return &Source{kind: kind, db: db, lang: cfg.Language, entries: cfg.CacheEntries, log: log.With("database", kind.String(), "name", db.name())}
}

// Name is the file's path, or the name given with the loader.
func (s *Source) Name() string { return s.db.name() }

// Kind is the slot the source fills.
func (s *Source) Kind() Kind { return s.kind }

// Metadata describes the version in use.
func (s *Source) Metadata() Metadata { return s.cur.Load().meta }

// Stats returns the counters; safe to call at any time.
func (s *Source) Stats() SourceStats {
	st := SourceStats{Reloads: s.reloads.Load(), Failures: s.failures.Load(), LookupErrors: s.lookupErrors.Load()}
	if e := s.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// lookup answers ip (already known global, with its key) from the cache, or the database on a miss.
func (s *Source) lookup(ip netip.Addr, k key, h uint64) record {
	g := s.cur.Load()
	slot := &g.slots[h&g.mask]
	if e := slot.Load(); e != nil && e.k == k {
		return e.rec
	}
	rec, ok := g.find(ip, k, s)
	if ok {
		slot.Store(&entry{k: k, rec: rec})
	}
	return rec
}

// find asks the database; false when it failed and the answer must not be cached.
func (g *generation) find(ip netip.Addr, k key, s *Source) (rec record, ok bool) {
	defer func() {
		// A record the reader cannot make sense of must not take the pipeline down; it is one address unlocated.
		if p := recover(); p != nil {
			s.lookupErrors.Add(1)
			rec, ok = record{}, false
		}
	}()
	if g.ipv4Only && !k.is4() {
		return record{}, true // the reader would build an error for it at every lookup
	}
	res := g.reader.Lookup(ip)
	if err := res.Err(); err != nil {
		s.lookupErrors.Add(1)
		return record{}, false
	}
	if !res.Found() {
		return record{}, true
	}
	off := res.Offset()
	g.mu.Lock()
	rec, ok = g.records[off]
	g.mu.Unlock()
	if ok {
		return rec, true
	}
	dec := decoder{kind: s.kind, lang: s.lang}
	if err := res.Decode(&dec); err != nil {
		s.lookupErrors.Add(1)
		return record{}, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if rec, ok = g.records[off]; ok { // decoded meanwhile by another goroutine
		return rec, true
	}
	if len(g.records) >= g.maxRecs {
		// Records still cached by address stay alive through their entries; only sharing with new ones is lost.
		clear(g.records)
		clear(g.strings)
	}
	// Copies, not pointers into dec, which would keep the whole decoder alive with each record. The names that
	// repeat across records (countries, continents, regions) are interned; a city's name is shared through its
	// record already, and an AS organization too: an ASN database has one record per AS, not per network.
	if s.kind == KindASN {
		as := dec.as
		rec.as = &as
	} else {
		c := dec.out
		c.CountryISO, c.CountryName, c.ContinentCode = g.intern(c.CountryISO), g.intern(c.CountryName), g.intern(c.ContinentCode)
		c.Region = g.intern(c.Region)
		rec.city = &c
	}
	g.records[off] = rec
	return rec, true
}

func (g *generation) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := g.strings[s]; ok {
		return v
	}
	g.strings[s] = s
	return s
}

// Check reloads the database if it changed: the file's size or modification time, or the loader's version. It
// returns whether a new version is in use, and the error of a version that failed (the old one stays in use). A
// file version that failed is not read again until it changes.
func (s *Source) Check(ctx context.Context) (bool, error) { return s.reload(ctx, false) }

// Reload opens the database again whatever its version, and swaps it in if it opens.
func (s *Source) Reload(ctx context.Context) error {
	_, err := s.reload(ctx, true)
	return err
}

func (s *Source) reload(ctx context.Context, force bool) (bool, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.cur.Load()
	g, err := s.open(ctx, func(o origin) bool {
		return !force && (cur != nil && o == cur.origin || o == s.failed)
	})
	if err != nil {
		s.failed = originOf(err)
		s.failures.Add(1)
		s.lastErr.Store(&err)
		if cur != nil {
			s.log.Warn("geoip: reload failed, keeping the database in use", "error", err,
				"in_use", cur.meta.Version)
		}
		return false, err
	}
	if g == nil {
		return false, nil
	}
	s.cur.Store(g)
	s.swaps.Add(1)
	if cur != nil {
		s.reloads.Add(1)
		s.log.Info("geoip: database reloaded", "database_type", g.meta.DatabaseType, "build_time", g.meta.BuildTime,
			"version", g.meta.Version, "previous", cur.meta.Version)
	}
	return true, nil
}

func originOf(err error) origin {
	var e *Error
	if errors.As(err, &e) {
		return e.origin
	}
	return origin{}
}

// open reads the current version; nil, nil when skip says it is the one already in use (or already failed).
func (s *Source) open(ctx context.Context, skip func(origin) bool) (*generation, error) {
	var (
		data []byte
		o    origin
	)
	fail := func(r Reason, dbType string, err error) error {
		e := &Error{Reason: r, Kind: s.kind, Name: s.db.name(), DatabaseType: dbType, Err: err}
		if r != ReasonUnreadable { // unreadable may pass: tried again at the next check
			e.origin = o
		}
		return e
	}
	if s.db.Path != "" {
		fi, err := os.Stat(s.db.Path)
		if err != nil {
			return nil, fail(ReasonUnreadable, "", err)
		}
		o = origin{size: fi.Size(), modTime: fi.ModTime()}
		if skip(o) {
			return nil, nil
		}
		if data, err = readFile(s.db.Path); err != nil {
			return nil, fail(ReasonUnreadable, "", err)
		}
		// The file may have been replaced between Stat and reading it: the origin is that of the bytes read
		// only if it did not change meanwhile, else the next check reads it again.
		if fi2, err := os.Stat(s.db.Path); err != nil || fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
			o = origin{size: -1}
		}
	} else {
		var (
			version string
			err     error
		)
		data, version, err = s.db.Load(ctx)
		if err != nil {
			return nil, fail(ReasonUnreadable, "", err)
		}
		o = origin{version: version}
		if skip(o) {
			return nil, nil
		}
		if len(data) == 0 {
			return nil, fail(ReasonUnreadable, "", errors.New("loader returned no bytes"))
		}
	}
	reader, err := openBytes(data)
	if err != nil {
		return nil, fail(ReasonNotMMDB, "", err)
	}
	if t := reader.Metadata.DatabaseType; !s.kind.accepts(t) {
		return nil, fail(ReasonWrongType, t, nil)
	}
	version := o.version
	if s.db.Path != "" {
		version = fmt.Sprintf("%d bytes, modified %s", o.size, o.modTime.UTC().Format(time.RFC3339Nano))
	}
	return &generation{
		reader:   reader,
		ipv4Only: reader.Metadata.IPVersion != 6,
		origin:   o,
		meta: Metadata{
			DatabaseType: reader.Metadata.DatabaseType,
			BuildTime:    reader.Metadata.BuildTime(),
			IPVersion:    reader.Metadata.IPVersion,
			Version:      version,
			LoadedAt:     time.Now(),
		},
		slots:   make([]atomic.Pointer[entry], s.entries),
		mask:    uint64(s.entries - 1),
		records: make(map[uintptr]record),
		strings: make(map[string]string),
		maxRecs: s.entries,
	}, nil
}

// readFile reads a database whole. The reader could map the file instead, but a file rewritten in place under a
// mapping faults the process (SIGBUS) and a mapping must be closed while lookups may still be reading it; bytes on
// the heap are freed by the collector once the last lookup of an old version returns.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("not a regular file")}
	}
	if fi.Size() == 0 || fi.Size() > MaxDatabaseBytes {
		return nil, fmt.Errorf("size %d: want 1 to %d bytes", fi.Size(), int64(MaxDatabaseBytes))
	}
	data := make([]byte, fi.Size())
	n, err := f.ReadAt(data, 0)
	if n < len(data) {
		return nil, fmt.Errorf("read %d of %d bytes: %w", n, len(data), err)
	}
	return data, nil
}

// openBytes opens an mmdb, and checks what the reader leaves to the first lookup: that its search tree fits in
// the bytes. The reader recovers from no panic, so a database that could make one panic is refused here.
func openBytes(data []byte) (r *maxminddb.Reader, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("malformed database: %v", p)
		}
	}()
	r, err = maxminddb.OpenBytes(data)
	if err != nil {
		return nil, err
	}
	m := r.Metadata
	if m.BinaryFormatMajorVersion != 2 {
		return nil, fmt.Errorf("binary format version %d: want 2", m.BinaryFormatMajorVersion)
	}
	if m.RecordSize != 24 && m.RecordSize != 28 && m.RecordSize != 32 {
		return nil, fmt.Errorf("record size %d: want 24, 28 or 32", m.RecordSize)
	}
	if m.IPVersion != 4 && m.IPVersion != 6 {
		return nil, fmt.Errorf("ip_version %d: want 4 or 6", m.IPVersion)
	}
	if m.NodeCount == 0 {
		return nil, errors.New("empty search tree")
	}
	return r, nil
}
