// record.go owns what kinflow reads from a database record (Info), the database types each slot accepts, and the
// decoding of records straight from the mmdb data section, without maps.

package geoip

import (
	"strings"

	"github.com/oschwald/maxminddb-golang/v2/mmdbdata"
)

// Info is what kinflow writes for one public address. Its strings are shared between every address of a record
// and between records (interned per database), so a lookup copies them without allocating; they are ordinary
// immutable strings the caller may keep.
type Info struct {
	CountryISO    string // ISO 3166-1 alpha-2: "DE"
	CountryName   string // in Config.Language, else English: "Germany"
	ContinentCode string // "EU"
	Region        string // the first, largest subdivision: "Bavaria" (City databases)
	City          string // "Munich" (City databases)
	// Lat and Lon are the location in degrees (City databases); only meaningful when LocationValid.
	Lat, Lon      float64
	LocationValid bool
	ASNumber      uint32 // 0: unknown
	ASOrg         string // "Deutsche Telekom AG"
}

// asInfo is what an ASN database holds: a record of its own, a fifth of an Info, since ASN records are many.
type asInfo struct {
	number uint32
	org    string
}

// record is a decoded record of either database: city of a City database, as of an ASN database.
type record struct {
	city *Info
	as   *asInfo
}

func (r record) found() bool { return r.city != nil || r.as != nil }

// Kind is which slot a database fills.
type Kind uint8

const (
	KindCity Kind = iota // City or Country databases
	KindASN              // ASN databases
)

func (k Kind) String() string {
	if k == KindASN {
		return "asn"
	}
	return "city"
}

// acceptedTypes are substrings of database_type that a slot reads: MaxMind's names (GeoLite2-City,
// GeoIP2-Country, GeoIP2-Enterprise, GeoLite2-ASN, GeoIP2-ISP) and those of compatible vendors (DBIP-City-Lite,
// DBIP-ASN-Lite), which keep the same record layout.
var acceptedTypes = [...][]string{
	KindCity: {"City", "Country", "Enterprise"},
	KindASN:  {"ASN", "ISP"},
}

func (k Kind) accepts(databaseType string) bool {
	for _, s := range acceptedTypes[k] {
		if strings.Contains(databaseType, s) {
			return true
		}
	}
	return false
}

func (k Kind) accepted() string { return "a type containing " + strings.Join(acceptedTypes[k], ", ") }

// decoder reads one record into an Info. It is the mmdbdata.Unmarshaler the reader calls, made per miss: a City
// record decoded the ordinary way builds a map per names object (a dozen languages, several objects), which is
// most of the cost of a miss and all of its garbage.
type decoder struct {
	kind Kind
	lang string
	out  Info
	as   asInfo
	// registered is the country the network is registered in, the fallback for records without a country
	// (anonymous proxies, satellite providers).
	registeredISO, registeredName string
}

func (r *decoder) UnmarshalMaxMindDB(d *mmdbdata.Decoder) error {
	m, _, err := d.ReadMap()
	if err != nil {
		return err
	}
	var lat, lon, hasLat, hasLon = 0.0, 0.0, false, false
	for k, err := range m {
		if err != nil {
			return err
		}
		if r.kind == KindASN {
			switch string(k) {
			case "autonomous_system_number":
				n, err := d.ReadUint32()
				if err != nil {
					return err
				}
				r.as.number = n
			case "autonomous_system_organization":
				if r.as.org, err = d.ReadString(); err != nil {
					return err
				}
			}
			continue
		}
		switch string(k) {
		case "city":
			_, r.out.City, err = r.place(d)
		case "continent":
			r.out.ContinentCode, _, err = r.place(d)
		case "country":
			r.out.CountryISO, r.out.CountryName, err = r.place(d)
		case "registered_country":
			r.registeredISO, r.registeredName, err = r.place(d)
		case "subdivisions":
			err = r.subdivisions(d)
		case "location":
			lat, lon, hasLat, hasLon, err = location(d)
		}
		if err != nil {
			return err
		}
	}
	if r.out.CountryISO == "" && r.out.CountryName == "" {
		r.out.CountryISO, r.out.CountryName = r.registeredISO, r.registeredName
	}
	if hasLat && hasLon {
		r.out.Lat, r.out.Lon, r.out.LocationValid = lat, lon, true
	}
	return nil
}

// place reads a city, continent, country or subdivision: its code and its name in r.lang, else English.
func (r *decoder) place(d *mmdbdata.Decoder) (code, name string, err error) {
	m, _, err := d.ReadMap()
	if err != nil {
		return "", "", err
	}
	for k, err := range m {
		if err != nil {
			return "", "", err
		}
		switch string(k) {
		case "iso_code", "code":
			if code, err = d.ReadString(); err != nil {
				return "", "", err
			}
		case "names":
			if name, err = r.names(d); err != nil {
				return "", "", err
			}
		}
	}
	return code, name, nil
}

func (r *decoder) names(d *mmdbdata.Decoder) (string, error) {
	m, _, err := d.ReadMap()
	if err != nil {
		return "", err
	}
	var name, english string
	for k, err := range m {
		if err != nil {
			return "", err
		}
		switch string(k) {
		case r.lang:
			if name, err = d.ReadString(); err != nil {
				return "", err
			}
		case "en":
			if english, err = d.ReadString(); err != nil {
				return "", err
			}
		}
	}
	if name == "" {
		name = english
	}
	return name, nil
}

// subdivisions keeps the first, largest subdivision (a state, not its county): the one region a document has.
func (r *decoder) subdivisions(d *mmdbdata.Decoder) error {
	s, _, err := d.ReadSlice()
	if err != nil {
		return err
	}
	first := true
	for err := range s {
		if err != nil {
			return err
		}
		if first {
			first = false
			if _, r.out.Region, err = r.place(d); err != nil {
				return err
			}
		}
	}
	return nil
}

func location(d *mmdbdata.Decoder) (lat, lon float64, hasLat, hasLon bool, err error) {
	m, _, err := d.ReadMap()
	if err != nil {
		return 0, 0, false, false, err
	}
	for k, err := range m {
		if err != nil {
			return 0, 0, false, false, err
		}
		switch string(k) {
		case "latitude":
			lat, err = d.ReadFloat64()
			hasLat = err == nil
		case "longitude":
			lon, err = d.ReadFloat64()
			hasLon = err == nil
		}
		if err != nil {
			return 0, 0, false, false, err
		}
	}
	return lat, lon, hasLat, hasLon, nil
}
