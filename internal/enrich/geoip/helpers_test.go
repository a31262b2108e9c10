package geoip

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// A network and its record, as a test database holds them.
type network struct {
	cidr   string
	record mmdbtype.Map
}

func names(en, de string) mmdbtype.Map {
	m := mmdbtype.Map{"en": mmdbtype.String(en)}
	if de != "" {
		m["de"] = mmdbtype.String(de)
	}
	return m
}

func place(code, en, de string) mmdbtype.Map {
	m := mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": names(en, de)}
	if code != "" {
		m["iso_code"] = mmdbtype.String(code)
	}
	return m
}

var (
	gb = place("GB", "United Kingdom", "Vereinigtes Königreich")
	us = place("US", "United States", "Vereinigte Staaten")
	eu = mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe", "Europa")}
	na = mmdbtype.Map{"code": mmdbtype.String("NA"), "names": names("North America", "Nordamerika")}
)

func loc(lat, lon float64) mmdbtype.Map {
	return mmdbtype.Map{"latitude": mmdbtype.Float64(lat), "longitude": mmdbtype.Float64(lon),
		"accuracy_radius": mmdbtype.Uint16(100), "time_zone": mmdbtype.String("Europe/London")}
}

// cityNetworks is City-shaped like GeoLite2-City: IPv4 and IPv6, a /16 with a more specific /24 (and a /32 with a
// /36), a record with only a registered country, and a network of a private block that Lookup must never reach.
func cityNetworks(londonName string) []network {
	return []network{
		{"81.2.0.0/16", mmdbtype.Map{"continent": eu, "country": gb, "registered_country": gb, "location": loc(51.4964, -0.1224)}},
		{"81.2.69.0/24", mmdbtype.Map{
			"city": place("", londonName, "London"), "continent": eu, "country": gb, "registered_country": gb,
			"location":     loc(51.5142, -0.0931),
			"postal":       mmdbtype.Map{"code": mmdbtype.String("EC2V")},
			"subdivisions": mmdbtype.Slice{place("ENG", "England", ""), place("LND", "City of London", "")},
		}},
		{"37.252.0.0/16", mmdbtype.Map{"continent": eu, "registered_country": place("DE", "Germany", "Deutschland")}},
		{"2600:1f18::/32", mmdbtype.Map{"continent": na, "country": us, "registered_country": us}},
		{"2600:1f18:4000::/36", mmdbtype.Map{
			"city": place("", "Ashburn", ""), "continent": na, "country": us, "registered_country": us,
			"location":     loc(39.0469, -77.4903),
			"subdivisions": mmdbtype.Slice{place("VA", "Virginia", "")},
		}},
		{"10.0.0.0/8", mmdbtype.Map{"country": us}},
		{"100.64.0.0/10", mmdbtype.Map{"country": us}},
	}
}

func asnNetworks(nested string) []network {
	as := func(n uint32, org string) mmdbtype.Map {
		return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
	}
	return []network{
		{"81.2.0.0/16", as(20712, "Andrews & Arnold Ltd")},
		{"81.2.69.0/24", as(20713, nested)},
		{"8.8.8.0/24", as(15169, "GOOGLE")},
		{"2600:1f18::/32", as(14618, "AMAZON-AES")},
		{"192.168.0.0/16", as(64512, "PRIVATE")},
	}
}

// buildDB writes a database of the type and networks; reserved networks are allowed so that a test can prove
// Lookup does not ask the database about them.
func buildDB(tb testing.TB, dbType string, nets []network) []byte {
	tb.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType, Languages: []string{"de", "en"}, IncludeReservedNetworks: true,
		BuildEpoch: 1_700_000_000, IPVersion: 6, RecordSize: 28,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			tb.Fatal(err)
		}
		if err := w.Insert(ipnet, n.record); err != nil {
			tb.Fatalf("insert %s: %v", n.cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func cityDB(tb testing.TB) []byte { return buildDB(tb, "GeoLite2-City", cityNetworks("London")) }
func asnDB(tb testing.TB) []byte {
	return buildDB(tb, "GeoLite2-ASN", asnNetworks("Andrews & Arnold Nested"))
}

func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func testConfig(city, asn Database) Config {
	cfg := DefaultConfig()
	cfg.City, cfg.ASN = city, asn
	cfg.ReloadInterval = 0
	return cfg
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
