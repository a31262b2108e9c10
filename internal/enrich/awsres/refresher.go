package awsres

import (
	"github.com/kinflow/kinflow/internal/enrich"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are the refresher's collaborators; the zero Options work.
type Options struct {
	Registerer prometheus.Registerer // nil: metrics are kept but not registered
	Logger     *slog.Logger          // nil: no logs
	Now        func() time.Time      // nil: time.Now; the clock of Stats.Built
}

// A Refresher holds the current Snapshot and rebuilds it: every Config.Interval while Run runs, or when Refresh is
// called. Lookups read the snapshot of the moment with one atomic load; a refresh builds the next one aside and
// swaps it in, so readers never wait for EC2 and never see half a refresh.
type Refresher struct {
	cfg       Config
	newClient ClientFactory
	metrics   *metrics
	log       *slog.Logger
	now       func() time.Time

	snap atomic.Pointer[Snapshot]
	// swaps counts the snapshots swapped in: the version a cache of lookups compares (enrich.Versioned).
	swaps atomic.Uint64

	mu      sync.Mutex // serializes refreshes; guards clients and parts
	clients []EC2API   // by target index; nil until the factory gave one
	parts   []*part    // by target index: the last successful listing, kept while the target fails

	refreshes, failures atomic.Int64
}

// New validates cfg and returns a refresher with an empty snapshot: every lookup misses until the first refresh.
// newClient makes the EC2 client of each target (NewClientFactory in production).
func New(cfg Config, newClient ClientFactory, opts Options) (*Refresher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if newClient == nil {
		return nil, fmt.Errorf("%w: no client factory", ErrInvalidConfig)
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	cfg.Targets = slices.Clone(cfg.Targets) // the caller may reuse its slice
	r := &Refresher{cfg: cfg, newClient: newClient, metrics: m, log: opts.Logger, now: opts.Now,
		clients: make([]EC2API, len(cfg.Targets)), parts: make([]*part, len(cfg.Targets))}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.snap.Store(emptySnapshot)
	return r, nil
}

// Snapshot returns the current snapshot. Hold it to answer several lookups from one consistent moment.
func (r *Refresher) Snapshot() *Snapshot { return r.snap.Load() }

// Lookup is Snapshot().Lookup: it never blocks, allocates or calls AWS.
func (r *Refresher) Lookup(ip netip.Addr) (*Resource, bool) { return r.snap.Load().Lookup(ip) }

// LookupVPC is Snapshot().LookupVPC.
func (r *Refresher) LookupVPC(ip netip.Addr, vpcID string) (*Resource, bool) {
	return r.snap.Load().LookupVPC(ip, vpcID)
}

// Interface is Snapshot().Interface.
func (r *Refresher) Interface(eniID string) (*Resource, bool) { return r.snap.Load().Interface(eniID) }

// Enrichment is the refresher as the enricher's source of resources (enrich.Resources): an address and an interface
// of one Resource answer the same *enrich.Resource, made once per snapshot.
func (r *Refresher) Enrichment() enrich.Resources { return enrichment{r} }

type enrichment struct{ r *Refresher }

// Version changes whenever the snapshot does.
func (e enrichment) Version() uint64 { return e.r.swaps.Load() }

func (e enrichment) Address(ip netip.Addr) *enrich.Resource {
	if res, ok := e.r.Lookup(ip); ok {
		return res.enriched
	}
	return nil
}

func (e enrichment) Interface(id string) *enrich.Resource {
	if res, ok := e.r.Interface(id); ok {
		return res.enriched
	}
	return nil
}

// RefresherStats are the current snapshot's Stats and the refresher's counters, for those without Prometheus.
type RefresherStats struct {
	Stats
	TargetRefreshes int64 // target refreshes attempted
	TargetFailures  int64 // of which failed
}

// Stats returns the current snapshot's stats and the refresh counters.
func (r *Refresher) Stats() RefresherStats {
	return RefresherStats{Stats: r.snap.Load().Stats(), TargetRefreshes: r.refreshes.Load(),
		TargetFailures: r.failures.Load()}
}

// Run refreshes every Config.Interval until ctx ends, and returns nil then; the caller refreshes once first (to
// start with an inventory, and to say at start-up when it cannot), as the geoip and threat sources' callers load
// them before their Run. Failures are logged and counted, not returned: the previous snapshot serves until a
// refresh succeeds.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		_ = r.Refresh(ctx)
	}
}

// Refresh lists every target (concurrently, each within Config.Timeout), assembles a new snapshot from the
// targets that succeeded and the previous parts of those that failed, and swaps it in. It returns the failures,
// *TargetErrors joined; nil when every target succeeded. When every target failed the snapshot is left as it was.
// Calls are serialized.
func (r *Refresher) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	errs := make([]error, len(r.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range r.cfg.Targets {
		wg.Go(func() { errs[i] = r.refreshTarget(ctx, i, t) })
	}
	wg.Wait()

	ok := 0
	for i, t := range r.cfg.Targets {
		r.refreshes.Add(1)
		if errs[i] != nil {
			r.failures.Add(1)
			r.metrics.refreshes.WithLabelValues(t.String(), resultFailed).Inc()
			var te *TargetError
			permanent := errors.As(errs[i], &te) && te.Permanent()
			r.log.LogAttrs(ctx, slog.LevelWarn, "awsres: target refresh failed; keeping its previous interfaces",
				slog.String("target", t.String()), slog.Bool("permanent", permanent),
				slog.Int("kept_interfaces", r.parts[i].len()), slog.String("error", errs[i].Error()))
			continue
		}
		ok++
		r.metrics.refreshes.WithLabelValues(t.String(), resultOK).Inc()
		r.metrics.lastSuccess.WithLabelValues(t.String()).Set(float64(r.now().UnixNano()) / 1e9)
	}
	if ok == 0 {
		return errors.Join(errs...)
	}

	s := assemble(r.parts, r.cfg.MaxInterfaces, r.now())
	r.snap.Store(s)
	r.swaps.Add(1)
	st := s.Stats()
	r.metrics.interfaces.Set(float64(st.Interfaces))
	r.metrics.addresses.Set(float64(st.Addresses))
	r.metrics.dropped.Set(float64(st.Dropped))
	if st.Dropped > 0 {
		r.log.LogAttrs(ctx, slog.LevelWarn, "awsres: more interfaces than max interfaces; the rest are not indexed",
			slog.Int("max_interfaces", r.cfg.MaxInterfaces), slog.Int("dropped_at_least", st.Dropped))
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "awsres: inventory refreshed",
		slog.Int("interfaces", st.Interfaces), slog.Int("addresses", st.Addresses),
		slog.Int("shared_addresses", st.SharedAddresses), slog.Int("targets_ok", ok),
		slog.Int("targets_failed", len(r.cfg.Targets)-ok))
	return errors.Join(errs...)
}

// refreshTarget lists target i and, on success, replaces its part. Called with r.mu held; each goroutine touches
// only index i.
func (r *Refresher) refreshTarget(ctx context.Context, i int, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	if r.clients[i] == nil {
		c, err := r.newClient(t)
		if err == nil && c == nil {
			err = errors.New("the client factory returned no client")
		}
		if err != nil {
			return &TargetError{Target: t, Op: "client", Err: err}
		}
		r.clients[i] = c
	}
	p, err := fetch(ctx, r.clients[i], t, r.cfg.MaxInterfaces)
	if err != nil {
		return err
	}
	r.parts[i] = p
	return nil
}

func (p *part) len() int {
	if p == nil {
		return 0
	}
	return len(p.resources)
}
