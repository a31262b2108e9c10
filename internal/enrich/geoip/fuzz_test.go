package geoip

import (
	"context"
	"net/netip"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
)

var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2600:1f18:4001::1"),
	netip.MustParseAddr("1.1.1.1"), netip.MustParseAddr("2a00::1"),
}

// FuzzOpen opens arbitrary bytes as each kind of database and looks addresses up in what opens: never a panic,
// and bytes that do not open are an *Error.
func FuzzOpen(f *testing.F) {
	city, asn := cityDB(f), asnDB(f)
	for _, seed := range [][]byte{city, asn, city[:len(city)/2], city[len(city)/3:], []byte("\xAB\xCD\xEFMaxMind.com"), nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{KindCity, KindASN} {
			cfg := testConfig(Database{}, Database{})
			cfg.CacheEntries = MinCacheEntries
			src := newSource(kind, Database{Load: Bytes(data), Name: "fuzz"}, cfg, discard())
			if _, err := src.Check(context.Background()); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("Check: %T %v, want an *Error", err, err)
				}
				continue
			}
			for _, ip := range fuzzAddrs {
				ip, k, _ := globalKey(ip)
				src.lookup(ip, k, k.slot(^uint64(0)))
			}
		}
	})
}

// FuzzLookup looks up arbitrary addresses and compares the answer with the reader's own, decoded the ordinary way.
func FuzzLookup(f *testing.F) {
	city, asn := cityDB(f), asnDB(f)
	db := newTestDB(f, testConfig(Database{Load: Bytes(city), Name: "city"}, Database{Load: Bytes(asn), Name: "asn"}))
	cityR, err := maxminddb.OpenBytes(city)
	if err != nil {
		f.Fatal(err)
	}
	asnR, err := maxminddb.OpenBytes(asn)
	if err != nil {
		f.Fatal(err)
	}
	for _, ip := range append(fuzzAddrs, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("64:ff9b::5102:458e")) {
		f.Add(ip.AsSlice())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		got, found := db.Lookup(ip)
		gip, _, global := globalKey(ip)
		if !global {
			if found || got != (Info{}) {
				t.Fatalf("Lookup(%s) of a non-global address = %+v, %v", ip, got, found)
			}
			return
		}
		var want Info
		var c plainCity
		var a plainASN
		cr, ar := cityR.Lookup(gip), asnR.Lookup(gip)
		if err := cr.Decode(&c); err != nil {
			t.Fatal(err)
		}
		if err := ar.Decode(&a); err != nil {
			t.Fatal(err)
		}
		want = c.info("en")
		want.ASNumber, want.ASOrg = a.Number, a.Org
		if found != (cr.Found() || ar.Found()) || got != want {
			t.Fatalf("Lookup(%s) = %+v, %v; the reader says %+v, %v", ip, got, found, want, cr.Found() || ar.Found())
		}
	})
}

// plainCity and plainASN are records decoded the ordinary way, with maps: the reference of FuzzLookup and of the
// plain benchmarks.
type plainCity struct {
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country           plainCountry `maxminddb:"country"`
	RegisteredCountry plainCountry `maxminddb:"registered_country"`
	Subdivisions      []struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

type plainCountry struct {
	ISOCode string            `maxminddb:"iso_code"`
	Names   map[string]string `maxminddb:"names"`
}

type plainASN struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

func (c *plainCity) info(lang string) Info {
	name := func(m map[string]string) string {
		if n := m[lang]; n != "" {
			return n
		}
		return m["en"]
	}
	country := c.Country
	if country.ISOCode == "" && name(country.Names) == "" {
		country = c.RegisteredCountry
	}
	i := Info{CountryISO: country.ISOCode, CountryName: name(country.Names), ContinentCode: c.Continent.Code,
		City: name(c.City.Names)}
	if len(c.Subdivisions) > 0 {
		i.Region = name(c.Subdivisions[0].Names)
	}
	if c.Location.Latitude != nil && c.Location.Longitude != nil {
		i.Lat, i.Lon, i.LocationValid = *c.Location.Latitude, *c.Location.Longitude, true
	}
	return i
}
