// reload.go owns keeping a Set current: checking sources for changes, rebuilding and swapping the Set.

package threat

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/xxh3"
)

// Options are the collaborators a Reloader is given.
type Options struct {
	Logger *slog.Logger     // nil: no logs
	Now    func() time.Time // the clock for ListStats.LoadedAt; nil: time.Now
	// OnReload, if set, is called after each reload that Run makes, with Reload's results: a hook for metrics.
	OnReload func(swapped bool, err error)
}

// A Reloader holds the current Set and rebuilds it when a source changes. Lookups read the Set through an
// atomic pointer, so they never wait for a reload, and a reload never changes a Set in use.
type Reloader struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	onReload func(bool, error)
	// newTicker is time.NewTicker but for tests, which tick by hand instead of sleeping.
	newTicker func(time.Duration) (<-chan time.Time, func())

	set atomic.Pointer[Set]
	// swaps counts the sets swapped in: the version a cache of lookups compares (enrich.Versioned).
	swaps atomic.Uint64

	mu      sync.Mutex // one reload at a time; never held by lookups
	sources []sourceState
}

// sourceState is the last good load of one source: a failed load leaves it as it was.
type sourceState struct {
	version string
	list    *List
}

// NewReloader validates cfg. The Set starts empty: call Reload once at start-up to load the lists and learn
// whether they load at all, then Run to keep them current.
func NewReloader(cfg Config, opts Options) (*Reloader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Reloader{
		cfg:      cfg,
		log:      opts.Logger,
		now:      opts.Now,
		onReload: opts.OnReload,
		sources:  make([]sourceState, len(cfg.Sources)),
		newTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	empty, _ := NewSet()
	r.set.Store(empty)
	return r, nil
}

// Set returns the current Set. It stays valid and unchanged after later reloads.
func (r *Reloader) Set() *Set { return r.set.Load() }

// Match is Set().Match: the most specific indicator of the current Set that holds ip.
func (r *Reloader) Match(ip netip.Addr) (Indicator, bool) { return r.set.Load().Match(ip) }

// Reload checks every source and, when any has changed and parses, builds a new Set and swaps it in. A source
// that fails to load or parse keeps its previous version in the new Set (or stays absent if it never loaded),
// so one broken feed neither empties the Set nor holds back the others' updates; when no source changed
// successfully the current Set stays as it is. swapped reports a new Set; err joins every source's *Error.
func (r *Reloader) Reload(ctx context.Context) (swapped bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	changed := false
	for i, src := range r.cfg.Sources {
		st := &r.sources[i]
		data, version, err := r.fetch(ctx, src, st.version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if version == st.version && st.list != nil {
			continue
		}
		l, err := ParseList(src.Name, data, src.Format)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.Version, l.LoadedAt = version, r.now()
		st.version, st.list = version, l
		changed = true
		if l.BadCount > 0 {
			r.log.Warn("threat list has bad lines", "list", l.Name, "version", version,
				"bad_lines", l.BadCount, "indicators", l.Accepted, "first", l.Bad[0].String())
		}
	}
	if changed {
		lists := make([]*List, 0, len(r.sources))
		for _, st := range r.sources {
			lists = append(lists, st.list)
		}
		s, err := NewSet(lists...)
		if err != nil { // Validate makes names unique, so this is a bug; keep serving the old Set
			return false, errors.Join(append(errs, err)...)
		}
		r.set.Store(s)
		r.swaps.Add(1)
		r.log.Info("threat lists reloaded", "prefixes", s.Len(), "lists", len(s.lists))
	}
	return changed, errors.Join(errs...)
}

// Run calls Reload every Config.Interval until ctx ends, and returns ctx's error. Failed reloads are logged and
// leave the Set as Reload describes; the next tick tries again.
func (r *Reloader) Run(ctx context.Context) error {
	tick, stop := r.newTicker(r.cfg.Interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
		}
		swapped, err := r.Reload(ctx)
		if err != nil {
			r.log.Warn("threat list reload failed; previous versions kept", "error", err)
		}
		if r.onReload != nil {
			r.onReload(swapped, err)
		}
	}
}

// fetch loads src unless its version is still last. It returns last and no data for an unchanged source.
func (r *Reloader) fetch(ctx context.Context, src Source, last string) (data []byte, version string, err error) {
	if src.Path != "" {
		return r.readFile(src, last)
	}
	fail := func(reason Reason, detail string, err error) ([]byte, string, error) {
		return nil, "", &Error{Reason: reason, List: src.Name, Detail: detail, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.LoadTimeout)
	defer cancel()
	data, version, err = src.Load(ctx)
	if err != nil {
		return fail(ReasonLoad, "loader", err)
	}
	if version != "" && version == last {
		return nil, last, nil
	}
	if data == nil && version != "" {
		// A loader that skipped the download (its own copy of the version is the last it returned, not the last
		// this reloader accepted): taking "no data" for an empty list would silently stop matching it.
		return fail(ReasonLoad, "loader", fmt.Errorf("version %q without its data", version))
	}
	if int64(len(data)) > r.cfg.MaxListBytes {
		return fail(ReasonTooLarge, fmt.Sprintf("%d bytes, over %d", len(data), r.cfg.MaxListBytes), nil)
	}
	if version == "" {
		// A loader that cannot say hashes its bytes: cheaper than parsing them, and a parse is what it saves.
		h := xxh3.Hash128(data).Bytes()
		version = "xxh3:" + hex.EncodeToString(h[:])
	}
	return data, version, nil
}

// readFile reads src's file when its size or modification time differ from last. It stats the open file, so the
// version and the bytes are of the same file even if it is replaced (renamed over) meanwhile.
func (r *Reloader) readFile(src Source, last string) ([]byte, string, error) {
	fail := func(reason Reason, detail string, err error) ([]byte, string, error) {
		return nil, "", &Error{Reason: reason, List: src.Name, Detail: detail, Err: err}
	}
	f, err := os.Open(src.Path)
	if err != nil {
		return fail(ReasonLoad, "open", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(ReasonLoad, "stat "+src.Path, err)
	}
	version := strconv.FormatInt(fi.Size(), 10) + "@" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
	if version == last {
		return nil, last, nil
	}
	if fi.Size() > r.cfg.MaxListBytes {
		return fail(ReasonTooLarge, fmt.Sprintf("%s: %d bytes, over %d", src.Path, fi.Size(), r.cfg.MaxListBytes), nil)
	}
	data, err := io.ReadAll(io.LimitReader(f, r.cfg.MaxListBytes+1))
	if err != nil {
		return fail(ReasonLoad, "read "+src.Path, err)
	}
	if int64(len(data)) > r.cfg.MaxListBytes { // grew after the stat
		return fail(ReasonTooLarge, fmt.Sprintf("%s: over %d bytes", src.Path, r.cfg.MaxListBytes), nil)
	}
	return data, version, nil
}
