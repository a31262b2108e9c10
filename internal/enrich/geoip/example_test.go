package geoip_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"

	"github.com/kinflow/kinflow/internal/enrich/geoip"
)

// A DB over the user's GeoLite2 files, checked for new versions every minute in the background; a private
// address is answered without asking the databases.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := geoip.DefaultConfig()
	cfg.City.Path = os.Getenv("GEOIP_CITY") // /data/GeoLite2-City.mmdb
	cfg.ASN.Path = os.Getenv("GEOIP_ASN")   // /data/GeoLite2-ASN.mmdb
	if cfg.City.Path == "" {
		fmt.Println("no database configured")
		return
	}
	db, err := geoip.New(ctx, cfg, nil)
	if err != nil {
		fmt.Println(err) // an *geoip.Error: not_mmdb, wrong_type (naming the file and its database_type), unreadable
		return
	}
	go db.Run(ctx)
	info, ok := db.Lookup(netip.MustParseAddr("10.0.0.1"))
	fmt.Println(info.CountryISO, ok)
}
