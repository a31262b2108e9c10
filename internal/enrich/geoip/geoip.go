// geoip.go owns the DB: the databases together, Lookup, and the reload loop.

package geoip

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// DB answers where public addresses are from a City (or Country) database, an ASN database, or both. It is safe
// for concurrent use by any number of goroutines; Lookup never waits for a reload.
type DB struct {
	cfg       Config
	city, asn *Source // nil when not configured
	log       *slog.Logger
}

// New validates cfg and opens its databases; it fails if any cannot be opened (a missing file, bytes that are not
// an mmdb, a database of the wrong type: an *Error), so that a misconfiguration is seen at start-up. log may be
// nil.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{cfg: cfg, log: log}
	var errs []error
	if cfg.City.used() {
		db.city = newSource(KindCity, cfg.City, cfg, log)
		if _, err := db.city.Check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.ASN.used() {
		db.asn = newSource(KindASN, cfg.ASN, cfg, log)
		if _, err := db.asn.Check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return db, nil
}

// Lookup returns what the databases know of ip, and whether any of them knows it. An address that is not
// globally reachable (see IsGlobal) is answered false without asking them; an IPv4-mapped IPv6 address, or one of
// the NAT64 prefix 64:ff9b::/96, is looked up as its IPv4 address.
//
// A cached address costs two loads and a compare per database and allocates nothing; a miss walks the search
// tree, and decodes the record only the first time one of its networks is seen.
func (db *DB) Lookup(ip netip.Addr) (Info, bool) {
	ip, k, ok := globalKey(ip)
	if !ok {
		return Info{}, false
	}
	var (
		info  Info
		found bool
	)
	h := k.slot(^uint64(0))
	if db.city != nil {
		if r := db.city.lookup(ip, k, h); r.city != nil {
			info, found = *r.city, true
		}
	}
	if db.asn != nil {
		if r := db.asn.lookup(ip, k, h); r.as != nil {
			info.ASNumber, info.ASOrg, found = r.as.number, r.as.org, true
		}
	}
	return info, found
}

// City returns the City source, nil when there is none.
func (db *DB) City() *Source { return db.city }

// ASN returns the ASN source, nil when there is none.
func (db *DB) ASN() *Source { return db.asn }

// Check checks every database once (see Source.Check) and returns the errors of those that failed to reload.
func (db *DB) Check(ctx context.Context) error {
	var errs []error
	for _, s := range []*Source{db.city, db.asn} {
		if s == nil {
			continue
		}
		if _, err := s.Check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run checks the databases every Config.ReloadInterval until ctx ends, and returns ctx's error; with no interval
// it returns at once. A failed check is logged and counted by the source and does not stop Run.
func (db *DB) Run(ctx context.Context) error {
	if db.cfg.ReloadInterval == 0 {
		return nil
	}
	t := time.NewTicker(db.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			_ = db.Check(ctx) // logged and counted by each source
		}
	}
}
