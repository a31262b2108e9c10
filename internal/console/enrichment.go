package console

import (
	"cmp"
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"time"
)

// What the flows say an address is, when enrichment is configured at ingest (internal/enrich): the AWS resource
// behind an address of the user's VPCs, the country and network of a public one, and the threat lists it is on.
// The console reads these from the flow documents only; it never asks a source itself.

// Identity is the IP page's "what it is" panel: read from the newest flow of the range that carries enrichment
// for the address's end (source.* when it was the source, destination.* otherwise). Known is false when no flow of
// the range carries any: enrichment is not configured, or no source knows the address.
type Identity struct {
	Known bool `json:"known"`
	// End is the end the address was in the flow read (source or destination); Seen is that flow's time.
	End  string     `json:"end,omitempty"`
	Seen *time.Time `json:"seen,omitempty"`

	// An address of the user's VPCs: the interface that holds it and what it is attached to.
	InterfaceID    string   `json:"interface_id,omitempty"`
	InterfaceType  string   `json:"interface_type,omitempty"`
	InstanceID     string   `json:"instance_id,omitempty"`
	InstanceName   string   `json:"instance_name,omitempty"`
	SecurityGroups []string `json:"security_groups,omitempty"`
	SubnetID       string   `json:"subnet_id,omitempty"`
	VPCID          string   `json:"vpc_id,omitempty"`
	AccountID      string   `json:"account_id,omitempty"`

	// A public address: where it is and the network that announces it.
	CountryISO  string `json:"country_iso_code,omitempty"`
	CountryName string `json:"country_name,omitempty"`
	City        string `json:"city_name,omitempty"`
	ASNumber    int64  `json:"as_number,omitempty"`
	ASOrg       string `json:"as_organization,omitempty"`

	// Threats are the list entries it matched in the range, from its latest matches (at most threatSample flows),
	// newest first; ThreatFlows counts every flow of the range in which it matched.
	Threats     []Threat `json:"threats,omitempty"`
	ThreatFlows int64    `json:"threat_flows,omitempty"`
}

// A Threat is one threat-list entry an address matched.
type Threat struct {
	List        string `json:"list"`
	Description string `json:"description,omitempty"`
}

// threatSample is how many of an address's latest matching flows the panel reads its lists from.
const threatSample = 20

// ends are the two ends of a flow, by the name their fields sit under.
var ends = []string{"source", "destination"}

// endGeoFields and endAWSFields are the fields the panel reads of an end: <end>.<geo field> and aws.<end>.<aws field>.
// Any of them present means the end was enriched.
var (
	endGeoFields = []string{"geo.country_iso_code", "geo.country_name", "geo.city_name", "as.number", "as.organization.name"}
	endAWSFields = []string{"interface.id", "interface.type", "instance.id", "instance.name", "security_groups", "subnet_id",
		"vpc_id", "account_id"}
	threatFields = []string{"threat.enrichments.matched.atomic", "threat.enrichments.indicator.provider",
		"threat.enrichments.indicator.description"}
)

// endFields are the fields of end the panel reads.
func endFields(end string) []string {
	out := make([]string, 0, len(endGeoFields)+len(endAWSFields))
	for _, f := range endGeoFields {
		out = append(out, end+"."+f)
	}
	for _, f := range endAWSFields {
		out = append(out, "aws."+end+"."+f)
	}
	return out
}

// enrichedAs matches a flow in which ip is end and that end was enriched.
func enrichedAs(end, ip string) any {
	var exists []any
	for _, f := range endFields(end) {
		exists = append(exists, map[string]any{"exists": map[string]any{"field": f}})
	}
	return map[string]any{"bool": map[string]any{"filter": []any{term(end+".ip", ip),
		map[string]any{"bool": map[string]any{"should": exists, "minimum_should_match": 1}}}}}
}

// strs reads a keyword that is an array in the registry but may hold one value.
type strs []string

func (s *strs) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*s = strs{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// endDoc and awsEndDoc are an end's enrichment as a flow document holds it.
type endDoc struct {
	IP  string
	Geo struct {
		CountryISO  string `json:"country_iso_code"`
		CountryName string `json:"country_name"`
		City        string `json:"city_name"`
	}
	AS struct {
		Number       int64
		Organization struct{ Name string }
	} `json:"as"`
}

type awsEndDoc struct {
	Interface struct{ ID, Type string }
	Instance  struct{ ID, Name string }
	SGs       strs   `json:"security_groups"`
	SubnetID  string `json:"subnet_id"`
	VPCID     string `json:"vpc_id"`
	AccountID string `json:"account_id"`
}

type enrichedDoc struct {
	Timestamp   time.Time `json:"@timestamp"`
	Source      endDoc
	Destination endDoc
	AWS         struct{ Source, Destination awsEndDoc } `json:"aws"`
	Threat      struct {
		Enrichments struct {
			Matched   struct{ Atomic strs }
			Indicator struct{ Provider, Description strs }
		}
	}
}

// enriched reports whether an end carries any of the fields the panel reads.
func enriched(e endDoc, a awsEndDoc) bool {
	return e.Geo != (endDoc{}).Geo || e.AS.Number != 0 || e.AS.Organization.Name != "" || a.Interface != (awsEndDoc{}).Interface ||
		a.Instance != (awsEndDoc{}).Instance || len(a.SGs) > 0 || a.SubnetID != "" || a.VPCID != "" || a.AccountID != ""
}

// sameAddr reports whether the document's address a is ip (both may be written in any of an address's forms).
func sameAddr(a string, ip netip.Addr) bool {
	x, err := netip.ParseAddr(a)
	return err == nil && x.Unmap() == ip
}

// identity reads what the flows of the range say ip is: one search, the newest flow in which ip's end was enriched
// (size 1, only the fields read), with the threat matches of the range counted beside it. The query bar does not
// narrow it: what an address is does not depend on which of its flows are shown.
func (s *Server) identity(ctx context.Context, sc scope, addr netip.Addr) (Identity, error) {
	ip := addr.String()
	source := []string{"@timestamp", "source.ip", "destination.ip"}
	for _, end := range ends {
		source = append(source, endFields(end)...)
	}
	matched := term("threat.enrichments.matched.atomic", ip)
	body := map[string]any{
		"size": 1, "track_total_hits": false, "_source": source,
		"sort": []any{map[string]any{"@timestamp": map[string]any{"order": "desc"}}},
		// The aggregation sees every flow of the address; the hit is only a flow in which its end was enriched.
		"query": map[string]any{"bool": map[string]any{"minimum_should_match": 1,
			"should": []any{term("source.ip", ip), term("destination.ip", ip)}}},
		"post_filter": map[string]any{"bool": map[string]any{"minimum_should_match": 1,
			"should": []any{enrichedAs("source", ip), enrichedAs("destination", ip)}}},
		"aggs": map[string]any{"threat": map[string]any{"filter": matched, "aggs": map[string]any{
			"latest": map[string]any{"top_hits": map[string]any{"size": threatSample, "_source": threatFields,
				"sort": []any{map[string]any{"@timestamp": map[string]any{"order": "desc"}}}}}}}},
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source enrichedDoc `json:"_source"`
			}
		}
		Aggregations struct {
			Threat struct {
				DocCount int64 `json:"doc_count"`
				Latest   struct {
					Hits struct {
						Hits []struct {
							Source enrichedDoc `json:"_source"`
						}
					}
				}
			}
		}
	}
	if err := s.search(ctx, flowsFamily, scope{From: sc.From, To: sc.To}, body, &res); err != nil {
		return Identity{}, err
	}
	var id Identity
	if hits := res.Hits.Hits; len(hits) > 0 {
		d := hits[0].Source
		t := d.Timestamp.UTC()
		id.Known, id.Seen = true, &t
		e, a := d.Destination, d.AWS.Destination
		id.End = "destination"
		if sameAddr(d.Source.IP, addr) && enriched(d.Source, d.AWS.Source) {
			e, a, id.End = d.Source, d.AWS.Source, "source"
		}
		id.CountryISO, id.CountryName, id.City = e.Geo.CountryISO, e.Geo.CountryName, e.Geo.City
		id.ASNumber, id.ASOrg = e.AS.Number, e.AS.Organization.Name
		id.InterfaceID, id.InterfaceType, id.InstanceID, id.InstanceName = a.Interface.ID, a.Interface.Type, a.Instance.ID, a.Instance.Name
		id.SecurityGroups, id.SubnetID, id.VPCID, id.AccountID = a.SGs, a.SubnetID, a.VPCID, a.AccountID
	}
	th := res.Aggregations.Threat
	id.ThreatFlows = th.DocCount
	for _, h := range th.Latest.Hits.Hits {
		// The arrays are parallel, one entry per match: the address's entries are those whose atomic it is.
		en := h.Source.Threat.Enrichments
		for i, a := range en.Matched.Atomic {
			if !sameAddr(a, addr) || i >= len(en.Indicator.Provider) {
				continue
			}
			t := Threat{List: en.Indicator.Provider[i]}
			if i < len(en.Indicator.Description) {
				t.Description = en.Indicator.Description[i]
			}
			if !slices.Contains(id.Threats, t) {
				id.Threats = append(id.Threats, t)
			}
		}
	}
	if len(id.Threats) > 0 {
		id.Known = true
	}
	return id, nil
}

// Labels: what an IP of a top list is, beside it. Each list's terms bucket gets two terms sub-aggregations of size
// 1 (no document is fetched): the most frequent instance Name tag and country code of the flows in the bucket, at
// the end the list is about.

// labelled adds the label sub-aggregations for end (source or destination) to a terms aggregation from termsBy.
func labelled(agg map[string]any, end string) map[string]any {
	sub := agg["aggs"].(map[string]any)
	sub["name"] = map[string]any{"terms": map[string]any{"field": "aws." + end + ".instance.name", "size": 1}}
	sub["country"] = map[string]any{"terms": map[string]any{"field": end + ".geo.country_iso_code", "size": 1}}
	return agg
}

// endOf is the end an IP field is about ("" for a field that is not an end's address).
func endOf(field string) string {
	switch field {
	case "source.ip":
		return "source"
	case "destination.ip":
		return "destination"
	}
	return ""
}

// labelBuckets is a label sub-aggregation's answer: its one bucket, if any document had the field.
type labelBuckets struct {
	Buckets []struct{ Key any }
}

func (l labelBuckets) first() string {
	if len(l.Buckets) == 0 {
		return ""
	}
	return bucketKey(l.Buckets[0].Key, "")
}

// A label is what an address is, in a word: its instance's Name tag or its country's code.
type label struct{ name, country string }

// labels looks up the labels of ips in the flows of [from, to): one search, each end's buckets of those addresses
// only (their flows alone are aggregated). An address the flows say nothing of is left out.
func (s *Server) labels(ctx context.Context, from, to time.Time, ips []string) (map[string]label, error) {
	out := map[string]label{}
	if len(ips) == 0 {
		return out, nil
	}
	aggs := map[string]any{}
	for _, end := range ends {
		aggs[end] = map[string]any{"filter": map[string]any{"terms": map[string]any{end + ".ip": ips}},
			"aggs": map[string]any{"ip": labelled(map[string]any{
				"terms": map[string]any{"field": end + ".ip", "size": len(ips)}, "aggs": map[string]any{}}, end)}}
	}
	var res struct {
		Aggregations map[string]struct {
			IP struct {
				Buckets []struct {
					Key           any
					KeyStr        string `json:"key_as_string"`
					Name, Country labelBuckets
				}
			}
		}
	}
	if err := s.search(ctx, flowsFamily, scope{From: from, To: to}, map[string]any{"size": 0, "aggs": aggs}, &res); err != nil {
		return nil, err
	}
	for _, end := range ends {
		for _, b := range res.Aggregations[end].IP.Buckets {
			k := bucketKey(b.Key, b.KeyStr)
			l := out[k]
			l.name = cmp.Or(l.name, b.Name.first())
			l.country = cmp.Or(l.country, b.Country.first())
			if l != (label{}) {
				out[k] = l
			}
		}
	}
	return out, nil
}
