package geoip

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	london = Info{CountryISO: "GB", CountryName: "United Kingdom", ContinentCode: "EU", Region: "England", City: "London",
		Lat: 51.5142, Lon: -0.0931, LocationValid: true, ASNumber: 20713, ASOrg: "Andrews & Arnold Nested"}
	britain = Info{CountryISO: "GB", CountryName: "United Kingdom", ContinentCode: "EU",
		Lat: 51.4964, Lon: -0.1224, LocationValid: true, ASNumber: 20712, ASOrg: "Andrews & Arnold Ltd"}
	ashburn = Info{CountryISO: "US", CountryName: "United States", ContinentCode: "NA", Region: "Virginia", City: "Ashburn",
		Lat: 39.0469, Lon: -77.4903, LocationValid: true, ASNumber: 14618, ASOrg: "AMAZON-AES"}
	awsUS = Info{CountryISO: "US", CountryName: "United States", ContinentCode: "NA", ASNumber: 14618, ASOrg: "AMAZON-AES"}
)

func newTestDB(tb testing.TB, cfg Config) *DB {
	tb.Helper()
	db, err := New(context.Background(), cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestLookup(t *testing.T) {
	tests := []struct {
		ip    string
		want  Info
		found bool
	}{
		{"81.2.69.142", london, true},                             // the /24 inside the /16
		{"81.2.69.0", london, true},                               // its first address
		{"81.2.68.255", britain, true},                            // just outside it: the /16
		{"81.2.1.1", britain, true},                               //
		{"::ffff:81.2.69.142", london, true},                      // IPv4-mapped IPv6
		{"64:ff9b::5102:458e", london, true},                      // NAT64 of 81.2.69.142
		{"2600:1f18:4001::1", ashburn, true},                      // the /36 inside the /32
		{"2600:1f18:1::1", awsUS, true},                           // the /32
		{"fe80::1%eth0", Info{}, false},                           // link-local, zone and all
		{"2600:1f19::1", Info{}, false},                           // global, in neither database
		{"1.1.1.1", Info{}, false},                                //
		{"8.8.8.8", Info{ASNumber: 15169, ASOrg: "GOOGLE"}, true}, // in the ASN database only
		{"37.252.1.2", Info{CountryISO: "DE", CountryName: "Germany", ContinentCode: "EU"}, true}, // registered country
	}
	for _, entries := range []int{MinCacheEntries, DefaultConfig().CacheEntries} {
		cfg := testConfig(Database{Load: Bytes(cityDB(t)), Name: "city"}, Database{Load: Bytes(asnDB(t)), Name: "asn"})
		cfg.CacheEntries = entries
		db := newTestDB(t, cfg)
		for pass := range 3 { // a miss, then hits (or evictions with the small cache)
			for _, tt := range tests {
				got, found := db.Lookup(netip.MustParseAddr(tt.ip))
				if found != tt.found {
					t.Errorf("cache %d, pass %d: Lookup(%s) found %v, want %v", entries, pass, tt.ip, found, tt.found)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("cache %d, pass %d: Lookup(%s) (-want +got):\n%s", entries, pass, tt.ip, diff)
				}
			}
		}
	}
}

// Strings are shared between addresses of one record and between records, so a lookup copies no bytes.
func TestLookupSharesStrings(t *testing.T) {
	db := newTestDB(t, testConfig(Database{Load: Bytes(cityDB(t)), Name: "city"}, Database{}))
	a, _ := db.Lookup(netip.MustParseAddr("81.2.69.1"))
	b, _ := db.Lookup(netip.MustParseAddr("81.2.1.1")) // another record, the same country
	if a.CountryName != b.CountryName || a.CountryName == "" {
		t.Fatalf("country names %q, %q", a.CountryName, b.CountryName)
	}
	if !sameString(a.CountryName, b.CountryName) {
		t.Errorf("the country name of two records is two strings, want one interned")
	}
	if n := testing.AllocsPerRun(100, func() { db.Lookup(netip.MustParseAddr("81.2.69.1")) }); n != 0 {
		t.Errorf("a cached lookup allocates %v times, want 0", n)
	}
}

func sameString(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafeData(a) == unsafeData(b))
}

func TestLanguage(t *testing.T) {
	cfg := testConfig(Database{Load: Bytes(cityDB(t)), Name: "city"}, Database{})
	cfg.Language = "de"
	db := newTestDB(t, cfg)
	got, _ := db.Lookup(netip.MustParseAddr("81.2.69.142"))
	want := Info{CountryISO: "GB", CountryName: "Vereinigtes Königreich", ContinentCode: "EU",
		Region: "England", City: "London", Lat: 51.5142, Lon: -0.0931, LocationValid: true} // no German "England": English
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Addresses that are not globally reachable are answered false even when the database has a record for them.
func TestNonGlobal(t *testing.T) {
	db := newTestDB(t, testConfig(Database{Load: Bytes(cityDB(t)), Name: "city"}, Database{Load: Bytes(asnDB(t)), Name: "asn"}))
	for _, s := range []string{
		"10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "100.127.255.254", "127.0.0.1",
		"169.254.169.254", "0.0.0.0", "0.1.2.3", "192.0.0.8", "192.0.2.1", "198.51.100.7", "203.0.113.9",
		"198.18.0.1", "198.19.255.255", "192.88.99.1", "224.0.0.251", "239.255.255.250", "240.0.0.1",
		"255.255.255.255", "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "2001:db8::1",
		"2001::1", "2002:c000:204::1", "3fff::1", "100::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "64:ff9b:1::1",
		"::a00:1", "4000::1",
	} {
		ip := netip.MustParseAddr(s)
		if IsGlobal(ip) {
			t.Errorf("IsGlobal(%s) = true", s)
		}
		if info, found := db.Lookup(ip); found || info != (Info{}) {
			t.Errorf("Lookup(%s) = %+v, %v; want nothing", s, info, found)
		}
	}
	for _, s := range []string{"1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
		"192.0.1.1", "198.17.255.255", "198.20.0.0", "223.255.255.255", "2600:1f18::1", "2a00:1450::1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2001:200::1"} {
		if !IsGlobal(netip.MustParseAddr(s)) {
			t.Errorf("IsGlobal(%s) = false", s)
		}
	}
	if IsGlobal(netip.Addr{}) {
		t.Errorf("IsGlobal(zero Addr) = true")
	}
}

func TestReloadFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "GeoLite2-City.mmdb", cityDB(t))
	db := newTestDB(t, testConfig(Database{Path: path}, Database{}))
	ip := netip.MustParseAddr("81.2.69.142")
	if got, _ := db.Lookup(ip); got.City != "London" {
		t.Fatalf("before reload: city %q", got.City)
	}
	ctx := context.Background()
	if changed, err := db.City().Check(ctx); changed || err != nil {
		t.Fatalf("Check of an unchanged file = %v, %v; want false, nil", changed, err)
	}

	// Rewritten in place with a new name of the same length, and dated later: the size alone does not tell.
	data := buildDB(t, "GeoLite2-City", cityNetworks("Londra"))
	writeFile(t, dir, "GeoLite2-City.mmdb", data)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if changed, err := db.City().Check(ctx); !changed || err != nil {
		t.Fatalf("Check of a rewritten file = %v, %v; want true, nil", changed, err)
	}
	if got, _ := db.Lookup(ip); got.City != "Londra" {
		t.Errorf("after reload: city %q, want Londra (a stale cache?)", got.City)
	}
	if changed, _ := db.City().Check(ctx); changed {
		t.Errorf("second Check reloaded again")
	}
	if st := db.City().Stats(); st.Reloads != 1 || st.Failures != 0 {
		t.Errorf("stats %+v, want 1 reload", st)
	}
	if m := db.City().Metadata(); m.DatabaseType != "GeoLite2-City" || m.BuildTime.Unix() != 1_700_000_000 || m.IPVersion != 6 {
		t.Errorf("metadata %+v", m)
	}
}

// A file replaced by garbage (a truncated download) keeps the database in use; it is tried once, not at every
// check, and a good file afterwards is loaded.
func TestReloadCorruptKeepsOld(t *testing.T) {
	dir := t.TempDir()
	good := cityDB(t)
	path := writeFile(t, dir, "city.mmdb", good)
	db := newTestDB(t, testConfig(Database{Path: path}, Database{}))
	ctx := context.Background()
	ip := netip.MustParseAddr("81.2.69.142")

	for i, corrupt := range [][]byte{good[:len(good)/2], []byte("not a database at all")} {
		writeFile(t, dir, "city.mmdb", corrupt)
		stamp := time.Now().Add(time.Duration(i+1) * time.Hour)
		if err := os.Chtimes(path, stamp, stamp); err != nil {
			t.Fatal(err)
		}
		changed, err := db.City().Check(ctx)
		if changed || !errors.Is(err, ErrNotMMDB) {
			t.Fatalf("corrupt %d: Check = %v, %v; want false, ErrNotMMDB", i, changed, err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
		if got, _ := db.Lookup(ip); got.City != "London" {
			t.Errorf("corrupt %d: city %q after a failed reload, want the old London", i, got.City)
		}
		if _, err := db.City().Check(ctx); err != nil {
			t.Errorf("corrupt %d: the same bad file was read again: %v", i, err)
		}
	}
	st := db.City().Stats()
	if st.Failures != 2 || st.Reloads != 0 || !errors.Is(st.LastError, ErrNotMMDB) {
		t.Errorf("stats %+v, want 2 failures", st)
	}

	writeFile(t, dir, "city.mmdb", buildDB(t, "GeoLite2-City", cityNetworks("Londra")))
	stamp := time.Now().Add(3 * time.Hour)
	if err := os.Chtimes(path, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	if changed, err := db.City().Check(ctx); !changed || err != nil {
		t.Fatalf("Check of a good file again = %v, %v", changed, err)
	}
	if got, _ := db.Lookup(ip); got.City != "Londra" {
		t.Errorf("city %q, want Londra", got.City)
	}
}

// A missing file at a check is a passing problem: the database stays, and the next check tries again.
func TestReloadMissingFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "asn.mmdb", asnDB(t))
	db := newTestDB(t, testConfig(Database{}, Database{Path: path}))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := db.Check(context.Background()); !errors.Is(err, ErrUnreadable) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Check = %v, want ErrUnreadable wrapping fs.ErrNotExist", err)
		}
	}
	if got, _ := db.Lookup(netip.MustParseAddr("8.8.8.8")); got.ASNumber != 15169 {
		t.Errorf("ASN %d after the file went away, want 15169", got.ASNumber)
	}
	if st := db.ASN().Stats(); st.Failures != 2 {
		t.Errorf("failures %d, want 2", st.Failures)
	}
}

func TestReloadLoader(t *testing.T) {
	var (
		mu      sync.Mutex
		data    = cityDB(t)
		version = "v1"
		fail    error
		calls   int
	)
	load := func(context.Context) ([]byte, string, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if fail != nil {
			return nil, "", fail
		}
		return data, version, nil
	}
	set := func(d []byte, v string, err error) {
		mu.Lock()
		data, version, fail = d, v, err
		mu.Unlock()
	}
	db := newTestDB(t, testConfig(Database{Load: load, Name: "s3://bucket/GeoLite2-City.mmdb"}, Database{}))
	ctx := context.Background()
	ip := netip.MustParseAddr("81.2.69.142")

	set(nil, "v1", nil) // same version: the loader need not download again
	if changed, err := db.City().Check(ctx); changed || err != nil {
		t.Fatalf("Check of the same version = %v, %v", changed, err)
	}
	set(nil, "", errors.New("connection reset"))
	if changed, err := db.City().Check(ctx); changed || !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "s3://bucket/GeoLite2-City.mmdb") {
		t.Fatalf("Check with a failing loader = %v, %v", changed, err)
	}
	set(buildDB(t, "GeoLite2-City", cityNetworks("Londra")), "v2", nil)
	if changed, err := db.City().Check(ctx); !changed || err != nil {
		t.Fatalf("Check of v2 = %v, %v", changed, err)
	}
	if got, _ := db.Lookup(ip); got.City != "Londra" || db.City().Metadata().Version != "v2" {
		t.Errorf("city %q version %q after v2", got.City, db.City().Metadata().Version)
	}
	set(asnDB(t), "v3", nil) // the wrong type: kept v2
	if _, err := db.City().Check(ctx); !errors.Is(err, ErrWrongType) {
		t.Errorf("Check of an ASN database as City = %v, want ErrWrongType", err)
	}
	if err := db.City().Reload(ctx); !errors.Is(err, ErrWrongType) {
		t.Errorf("Reload forces a failed version again: %v, want ErrWrongType", err)
	}
	if got, _ := db.Lookup(ip); got.City != "Londra" {
		t.Errorf("city %q, want Londra kept", got.City)
	}
	if calls != 6 {
		t.Errorf("loader called %d times, want 6", calls)
	}
}

func TestReaderAt(t *testing.T) {
	data := asnDB(t)
	db := newTestDB(t, testConfig(Database{}, Database{Load: ReaderAt(strings.NewReader(string(data)), int64(len(data))), Name: "mem"}))
	if got, found := db.Lookup(netip.MustParseAddr("2600:1f18::5")); !found || got.ASNumber != 14618 {
		t.Errorf("Lookup = %+v, %v", got, found)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	city := writeFile(t, dir, "GeoLite2-City.mmdb", cityDB(t))
	asn := writeFile(t, dir, "GeoLite2-ASN.mmdb", asnDB(t))
	text := writeFile(t, dir, "README.txt", []byte("GeoLite2 databases go here\n"))
	empty := writeFile(t, dir, "empty.mmdb", nil)
	tests := []struct {
		name     string
		cfg      Config
		want     []error
		contains []string
	}{
		{"swapped", testConfig(Database{Path: asn}, Database{Path: city}), []error{ErrWrongType},
			[]string{`city database ` + asn + `: wrong_type: database_type "GeoLite2-ASN"`,
				`asn database ` + city + `: wrong_type: database_type "GeoLite2-City"`}},
		{"not an mmdb", testConfig(Database{Path: text}, Database{}), []error{ErrNotMMDB}, []string{text}},
		{"empty", testConfig(Database{Path: empty}, Database{}), []error{ErrUnreadable}, []string{empty}},
		{"missing", testConfig(Database{Path: filepath.Join(dir, "nope.mmdb")}, Database{}), []error{ErrUnreadable, fs.ErrNotExist}, []string{"nope.mmdb"}},
		{"directory", testConfig(Database{}, Database{Path: dir}), []error{ErrUnreadable}, []string{"not a regular file"}},
		{"bad config", testConfig(Database{}, Database{}), []error{ErrInvalidConfig}, []string{"no database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg, nil)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("New: %v, want %v", err, w)
				}
			}
			for _, c := range tt.contains {
				if err == nil || !strings.Contains(err.Error(), c) {
					t.Errorf("New: %v, want it to contain %q", err, c)
				}
			}
		})
	}
	var e *Error
	_, err := New(context.Background(), testConfig(Database{}, Database{Path: city}), nil)
	if !errors.As(err, &e) || e.Reason != ReasonWrongType || e.DatabaseType != "GeoLite2-City" || e.Kind != KindASN || e.Name != city {
		t.Errorf("New: %#v, want an *Error naming the file and its type", err)
	}
}

func TestValidate(t *testing.T) {
	load := Bytes([]byte("x"))
	tests := []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error; none: valid
	}{
		{"city file", func(c *Config) { c.City.Path = "city.mmdb" }, nil},
		{"both loaders", func(c *Config) { c.City = Database{Load: load, Name: "a"}; c.ASN = Database{Load: load, Name: "b"} }, nil},
		{"nothing", func(c *Config) {}, []string{"no database"}},
		{"path and load", func(c *Config) { c.City = Database{Path: "a", Load: load} }, []string{"city: both Path"}},
		{"load without name", func(c *Config) { c.ASN = Database{Load: load} }, []string{"asn: Load without a Name"}},
		{"name alone", func(c *Config) { c.City.Path = "c"; c.ASN.Name = "x" }, []string{`asn: Name "x" without`}},
		{"same file", func(c *Config) { c.City.Path = "x"; c.ASN.Path = "x" }, []string{"same file"}},
		{"every other problem at once", func(c *Config) {
			c.City.Path = "c"
			c.Language = "english"
			c.ReloadInterval = time.Millisecond
			c.CacheEntries = 1000
		}, []string{`language "english": allowed de, en`, "reload interval 1ms", "cache entries 1000: want a power of two"}},
		{"cache too small", func(c *Config) { c.City.Path = "c"; c.CacheEntries = 8 }, []string{"cache entries 8"}},
		{"cache too large", func(c *Config) { c.City.Path = "c"; c.CacheEntries = 1 << 25 }, []string{"cache entries"}},
		{"never reload", func(c *Config) { c.City.Path = "c"; c.ReloadInterval = 0 }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate: %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// Many goroutines look up while the database is reloaded under them; run with -race. Every answer is one of the
// two versions, whole: never a mix, never a missing record.
func TestConcurrentLookupAndReload(t *testing.T) {
	v1, v2 := cityDB(t), buildDB(t, "GeoLite2-City", cityNetworks("Londra"))
	var (
		mu  sync.Mutex
		n   int
		cur = v1
	)
	load := func(context.Context) ([]byte, string, error) {
		mu.Lock()
		defer mu.Unlock()
		return cur, string(rune('a' + n)), nil
	}
	cfg := testConfig(Database{Load: load, Name: "city"}, Database{Load: Bytes(asnDB(t)), Name: "asn"})
	cfg.CacheEntries = MinCacheEntries // evictions too
	db := newTestDB(t, cfg)
	addrs := []netip.Addr{netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("81.2.3.4"),
		netip.MustParseAddr("2600:1f18:4001::1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("10.0.0.1")}
	for i := range 200 {
		addrs = append(addrs, netip.AddrFrom4([4]byte{81, 2, 69, byte(i)}))
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; ctx.Err() == nil; i++ {
				ip := addrs[i%len(addrs)]
				info, found := db.Lookup(ip)
				if ip.Is4() && ip.As4()[2] == 69 && (!found || info.City != "London" && info.City != "Londra" || info.ASNumber != 20713) {
					t.Errorf("Lookup(%s) = %+v, %v", ip, info, found)
					return
				}
			}
		})
	}
	for i := range 50 {
		mu.Lock()
		n = i + 1
		cur = [][]byte{v1, v2}[i%2]
		mu.Unlock()
		if changed, err := db.City().Check(ctx); !changed || err != nil {
			t.Errorf("reload %d: %v, %v", i, changed, err)
		}
	}
	cancel()
	wg.Wait()
}

func TestRun(t *testing.T) {
	db := newTestDB(t, testConfig(Database{Load: Bytes(cityDB(t)), Name: "c"}, Database{}))
	if err := db.Run(context.Background()); err != nil { // no interval: returns at once
		t.Errorf("Run without an interval: %v", err)
	}
	db.cfg.ReloadInterval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
}
