package kql

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/schema"
)

// flows is the field map of the flow documents, the family the console queries most.
var flows = Fields(schema.Flows())

// small has one field of each type a query can search (and one it cannot), for the cases whose DSL walks every
// field (a value without a field) or needs a type flows lack.
var small = map[string]string{
	"host.name": "keyword",
	"host.ip":   "ip",
	"message":   "text",
	"ok":        "boolean",
	"n":         "long",
	"geo":       "geo_point",
	"labels.":   "keyword",
}

type parseCase struct {
	name   string
	query  string
	fields map[string]string // flows when nil
	want   string            // the DSL as JSON, when the query is good
	errOff int               // the error's offset, when want is empty
	errMsg string            // a part of the error's message
}

var parseCases = []parseCase{
	// The seed query of issue 15, verbatim, and its spellings.
	{name: "seed", query: `source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*`,
		want: `{"bool":{"filter":[{"term":{"source.ip":"10.0.0.0/8"}},{"term":{"event.action":"reject"}},{"exists":{"field":"destination.ip"}}]}}`},
	{name: "seed lower case", query: `source.ip:10.0.0.0/8 and event.action:reject and destination.ip:*`,
		want: `{"bool":{"filter":[{"term":{"source.ip":"10.0.0.0/8"}},{"term":{"event.action":"reject"}},{"exists":{"field":"destination.ip"}}]}}`},
	{name: "seed mixed case and spaces", query: "  source.ip : 10.0.0.0/8\tAnd\nevent.action: reject aNd destination.ip: *  ",
		want: `{"bool":{"filter":[{"term":{"source.ip":"10.0.0.0/8"}},{"term":{"event.action":"reject"}},{"exists":{"field":"destination.ip"}}]}}`},
	{name: "empty", query: "", want: `{"match_all":{}}`},
	{name: "blank", query: " \t\n", want: `{"match_all":{}}`},

	// ip fields: addresses and CIDRs, v4 and v6.
	{name: "ipv4", query: `source.ip:10.0.0.5`, want: `{"term":{"source.ip":"10.0.0.5"}}`},
	{name: "ipv4 cidr host bits masked", query: `source.ip:10.1.2.3/8`, want: `{"term":{"source.ip":"10.0.0.0/8"}}`},
	{name: "ipv6 cidr quoted", query: `destination.ip:"2001:DB8::/32"`, want: `{"term":{"destination.ip":"2001:db8::/32"}}`},
	{name: "ipv6 escaped colons", query: `related.ip:2001\:db8\:\:1`, want: `{"term":{"related.ip":"2001:db8::1"}}`},
	{name: "ip list of cidrs", query: `source.ip:(10.0.0.0/8 or 172.16.0.0/12 OR "fd00::/8")`,
		want: `{"terms":{"source.ip":["10.0.0.0/8","172.16.0.0/12","fd00::/8"]}}`},
	{name: "ip range", query: `source.ip >= 10.0.0.0 and source.ip < 10.0.1.0`,
		want: `{"bool":{"filter":[{"range":{"source.ip":{"gte":"10.0.0.0"}}},{"range":{"source.ip":{"lt":"10.0.1.0"}}}]}}`},

	// keyword fields: terms, wildcards, exists.
	{name: "wildcard prefix", query: `aws.vpcflow.interface_id:eni-0a1b*`,
		want: `{"wildcard":{"aws.vpcflow.interface_id":{"value":"eni-0a1b*"}}}`},
	{name: "wildcards inside", query: `aws.vpcflow.vpc_id:*-prod-*`, want: `{"wildcard":{"aws.vpcflow.vpc_id":{"value":"*-prod-*"}}}`},
	{name: "wildcard escapes ? and an escaped star", query: `cloud.region:us-?ast\*1*`,
		want: `{"wildcard":{"cloud.region":{"value":"us-\\?ast\\*1*"}}}`},
	{name: "escaped star is a term", query: `cloud.region:a\*b`, want: `{"term":{"cloud.region":"a*b"}}`},
	{name: "quoted star is a term", query: `event.action:"*"`, want: `{"term":{"event.action":"*"}}`},
	{name: "exists", query: `destination.ip:*`, want: `{"exists":{"field":"destination.ip"}}`},
	{name: "exists on a long", query: `destination.port : *`, want: `{"exists":{"field":"destination.port"}}`},
	{name: "wildcards across words", query: `aws.vpcflow.vpc_id:a* b*c d`, want: `{"wildcard":{"aws.vpcflow.vpc_id":{"value":"a* b*c d"}}}`},
	{name: "words are one value", query: `event.action:accept reject`, want: `{"term":{"event.action":"accept reject"}}`},
	{name: "a keyword inside a word is not an operator", query: `aws.vpcflow.reject_reason:cannot be`,
		want: `{"term":{"aws.vpcflow.reject_reason":"cannot be"}}`},
	{name: "escaped operator is a value", query: `event.action:\OR`, want: `{"term":{"event.action":"OR"}}`},
	{name: "escaped specials", query: `event.action:a\(b\)\:\\c\"`, want: `{"term":{"event.action":"a(b):\\c\""}}`},
	{name: "unicode escape", query: `event.action:\u0041b`, want: `{"term":{"event.action":"Ab"}}`},
	{name: "quoted with escapes", query: `aws.vpcflow.sublocation_id:"say \"hi\" \\ now\tand \u00e9 \q"`,
		want: `{"term":{"aws.vpcflow.sublocation_id":"say \"hi\" \\ now\tand é \\q"}}`},
	{name: "quoted keeps operators and specials", query: `event.action:"a or b (c:d)"`,
		want: `{"term":{"event.action":"a or b (c:d)"}}`},
	{name: "quoted field name", query: `"source.ip":10.0.0.5`, want: `{"term":{"source.ip":"10.0.0.5"}}`},
	{name: "any row keyword", query: `aws.vpcflow.custom_field:abc`, want: `{"term":{"aws.vpcflow.custom_field":"abc"}}`},
	{name: "any row long, the longest prefix", query: `aws.vpcflow.packets_lost_new > 5`,
		want: `{"range":{"aws.vpcflow.packets_lost_new":{"gt":5}}}`},

	// long fields.
	{name: "long", query: `destination.port:443`, want: `{"term":{"destination.port":443}}`},
	{name: "long list", query: `destination.port:(22 or 80 or 443)`, want: `{"terms":{"destination.port":[22,80,443]}}`},
	{name: "range gte", query: `destination.port >= 1024`, want: `{"range":{"destination.port":{"gte":1024}}}`},
	{name: "range gt no spaces", query: `network.bytes>1000000`, want: `{"range":{"network.bytes":{"gt":1000000}}}`},
	{name: "range lt", query: `network.packets < 3`, want: `{"range":{"network.packets":{"lt":3}}}`},
	{name: "range lte quoted", query: `network.packets<="3"`, want: `{"range":{"network.packets":{"lte":3}}}`},

	// date fields: a day is that UTC day, a time is an instant.
	{name: "day", query: `@timestamp:2026-11-23`,
		want: `{"range":{"@timestamp":{"gte":"2026-11-23T00:00:00Z","lt":"2026-11-24T00:00:00Z"}}}`},
	{name: "instant to UTC", query: `event.start:"2026-11-23T10:00:00.250+01:00"`,
		want: `{"term":{"event.start":"2026-11-23T09:00:00.25Z"}}`},
	{name: "after a day", query: `@timestamp > 2026-11-23`, want: `{"range":{"@timestamp":{"gte":"2026-11-24T00:00:00Z"}}}`},
	{name: "from a day", query: `@timestamp >= 2026-11-23`, want: `{"range":{"@timestamp":{"gte":"2026-11-23T00:00:00Z"}}}`},
	{name: "before a day", query: `@timestamp < 2026-11-23`, want: `{"range":{"@timestamp":{"lt":"2026-11-23T00:00:00Z"}}}`},
	{name: "up to a day", query: `@timestamp <= 2026-11-23`, want: `{"range":{"@timestamp":{"lt":"2026-11-24T00:00:00Z"}}}`},
	{name: "after an instant", query: `event.end > "2026-11-23T10:00:00Z"`, want: `{"range":{"event.end":{"gt":"2026-11-23T10:00:00Z"}}}`},
	{name: "days list", query: `@timestamp:(2026-11-23 or 2026-11-25)`,
		want: `{"bool":{"should":[{"range":{"@timestamp":{"gte":"2026-11-23T00:00:00Z","lt":"2026-11-24T00:00:00Z"}}},{"range":{"@timestamp":{"gte":"2026-11-25T00:00:00Z","lt":"2026-11-26T00:00:00Z"}}}],"minimum_should_match":1}}`},

	// boolean and text fields.
	{name: "boolean", query: `ok:true or ok:FALSE`, fields: small, want: `{"terms":{"ok":[true,false]}}`},
	{name: "text words", query: `message:quick brown`, fields: small, want: `{"match":{"message":"quick brown"}}`},
	{name: "text phrase", query: `message:"quick brown"`, fields: small, want: `{"match_phrase":{"message":"quick brown"}}`},
	{name: "text wildcard", query: `message:qui*`, fields: small, want: `{"wildcard":{"message":{"value":"qui*"}}}`},

	// Operators: NOT > AND > OR, parentheses, lists.
	{name: "and binds tighter than or", query: `event.action:accept or source.port:22 and destination.port:80`,
		want: `{"bool":{"should":[{"term":{"event.action":"accept"}},{"bool":{"filter":[{"term":{"source.port":22}},{"term":{"destination.port":80}}]}}],"minimum_should_match":1}}`},
	{name: "parentheses first", query: `(event.action:accept or source.port:22) and destination.port:80`,
		want: `{"bool":{"filter":[{"bool":{"should":[{"term":{"event.action":"accept"}},{"term":{"source.port":22}}],"minimum_should_match":1}},{"term":{"destination.port":80}}]}}`},
	{name: "not binds tightest", query: `not event.action:accept and source.port:22`,
		want: `{"bool":{"filter":[{"bool":{"must_not":[{"term":{"event.action":"accept"}}]}},{"term":{"source.port":22}}]}}`},
	{name: "not of a group, no space", query: `NOT(event.action:accept OR source.port:22)`,
		want: `{"bool":{"must_not":[{"bool":{"should":[{"term":{"event.action":"accept"}},{"term":{"source.port":22}}],"minimum_should_match":1}}]}}`},
	{name: "not not", query: `not NOT event.action:accept`,
		want: `{"bool":{"must_not":[{"bool":{"must_not":[{"term":{"event.action":"accept"}}]}}]}}`},
	{name: "or of one field's terms is terms", query: `event.action:accept or event.action:reject`,
		want: `{"terms":{"event.action":["accept","reject"]}}`},
	{name: "ors flatten", query: `source.port:1 or (destination.port:2 or (network.bytes:3))`,
		want: `{"bool":{"should":[{"term":{"source.port":1}},{"term":{"destination.port":2}},{"term":{"network.bytes":3}}],"minimum_should_match":1}}`},
	{name: "ands flatten", query: `source.port:1 and (destination.port:2 and network.bytes:3)`,
		want: `{"bool":{"filter":[{"term":{"source.port":1}},{"term":{"destination.port":2}},{"term":{"network.bytes":3}}]}}`},
	{name: "list", query: `event.action:(accept OR reject)`, want: `{"terms":{"event.action":["accept","reject"]}}`},
	{name: "nested list", query: `network.transport:((tcp or udp) or icmp)`, want: `{"terms":{"network.transport":["tcp","udp","icmp"]}}`},
	{name: "list with and, not and a wildcard", query: `aws.vpcflow.tcp_flags_array:(syn and not ack or fi*)`,
		want: `{"bool":{"should":[{"bool":{"filter":[{"term":{"aws.vpcflow.tcp_flags_array":"syn"}},{"bool":{"must_not":[{"term":{"aws.vpcflow.tcp_flags_array":"ack"}}]}}]}},{"wildcard":{"aws.vpcflow.tcp_flags_array":{"value":"fi*"}}}],"minimum_should_match":1}}`},
	{name: "list binds only its values", query: `event.action:(accept) and source.ip:*`,
		want: `{"bool":{"filter":[{"term":{"event.action":"accept"}},{"exists":{"field":"source.ip"}}]}}`},
	{name: "not before a value", query: `event.action:not accept`, want: `{"bool":{"must_not":[{"term":{"event.action":"accept"}}]}}`},

	// A value without a field: keyword and text fields, ip fields when it is an address or a CIDR.
	{name: "bare word", query: `web`, fields: small,
		want: `{"bool":{"should":[{"term":{"host.name":"web"}},{"match":{"message":"web"}}],"minimum_should_match":1}}`},
	{name: "bare address", query: `10.0.0.5`, fields: small,
		want: `{"bool":{"should":[{"term":{"host.ip":"10.0.0.5"}},{"term":{"host.name":"10.0.0.5"}},{"match":{"message":"10.0.0.5"}}],"minimum_should_match":1}}`},
	{name: "bare cidr", query: `10.0.0.0/8`, fields: small,
		want: `{"bool":{"should":[{"term":{"host.ip":"10.0.0.0/8"}},{"term":{"host.name":"10.0.0.0/8"}},{"match":{"message":"10.0.0.0/8"}}],"minimum_should_match":1}}`},
	{name: "bare phrase", query: `"a b"`, fields: small,
		want: `{"bool":{"should":[{"term":{"host.name":"a b"}},{"match_phrase":{"message":"a b"}}],"minimum_should_match":1}}`},
	{name: "bare wildcard", query: `web-*`, fields: small,
		want: `{"bool":{"should":[{"wildcard":{"host.name":{"value":"web-*"}}},{"wildcard":{"message":{"value":"web-*"}}}],"minimum_should_match":1}}`},
	{name: "bare star", query: `*`, want: `{"match_all":{}}`},
	{name: "not everything", query: `not *`, want: `{"bool":{"must_not":[{"match_all":{}}]}}`},
	{name: "bare and field", query: `web and n:1`, fields: map[string]string{"host.name": "keyword", "n": "long"},
		want: `{"bool":{"filter":[{"term":{"host.name":"web"}},{"term":{"n":1}}]}}`},
	{name: "bare, nothing to search", query: `web`, fields: map[string]string{"host.ip": "ip"}, want: `{"match_none":{}}`},
	{name: "prefix rows are a type", query: `labels.team:blue`, fields: small, want: `{"term":{"labels.team":"blue"}}`},

	// Unknown fields name the closest known one.
	{name: "misspelt field", query: `sorce.ip:10.0.0.5`, errOff: 0, errMsg: `unknown field "sorce.ip" (did you mean "source.ip"?)`},
	{name: "field's last part", query: `event.action:reject and action:accept`, errOff: 24,
		errMsg: `unknown field "action" (did you mean "event.action"?)`},
	{name: "field in a range", query: `destination.prot > 5`, errOff: 0, errMsg: `unknown field "destination.prot" (did you mean "destination.port"?)`},
	{name: "the prefix itself", query: `aws.vpcflow.:x`, errOff: 0, errMsg: `unknown field "aws.vpcflow."`},
	{name: "field wildcard", query: `source.*:10.0.0.5`, errOff: 0, errMsg: `a field name with '*' ("source.*") is not supported`},
	{name: "long values are cut in messages", query: "source.port:" + strings.Repeat("9", 100) + "x", errOff: 12,
		errMsg: `"` + strings.Repeat("9", 64) + `"… is not a whole number`},
	{name: "empty field", query: `"":x`, errOff: 0, errMsg: `expected a field name before ':'`},

	// Syntax, with where.
	{name: "no value", query: `source.ip:`, errOff: 10, errMsg: `expected a value after "source.ip:"`},
	{name: "no value before and", query: `source.ip: and x`, errOff: 11, errMsg: `expected a value after "source.ip:", not the operator "and"`},
	{name: "nothing after and", query: `source.ip:10.0.0.5 AND`, errOff: 22, errMsg: `expected a field or a value after "AND"`},
	{name: "nothing after not", query: `not`, errOff: 3, errMsg: `expected a field or a value after "not"`},
	{name: "operator first", query: `or event.action:accept`, errOff: 0, errMsg: `expected a field or a value, not the operator "or"`},
	{name: "operator as a value", query: `event.action:or`, errOff: 13, errMsg: `not the operator "or" (quote it`},
	{name: "no implicit and", query: `event.action:reject event.action:accept`, errOff: 20,
		errMsg: `expected AND or OR before "event.action:"`},
	{name: "no implicit and after a quote", query: `event.action:"reject" source.port:22`, errOff: 22,
		errMsg: `expected AND, OR or the end of the query, not "source.port"`},
	{name: "no implicit and in a group", query: `(event.action:"reject" x)`, errOff: 23, errMsg: `expected AND, OR or ')', not "x"`},
	{name: "unclosed group", query: `(source.port:22 or source.port:23`, errOff: 0, errMsg: `this '(' is never closed`},
	{name: "unclosed list", query: `source.port:(22 or 23`, errOff: 12, errMsg: `this '(' is never closed`},
	{name: "unopened group", query: `source.port:22)`, errOff: 14, errMsg: `this ')' closes no '('`},
	{name: "empty group", query: `()`, errOff: 1, errMsg: `empty parentheses: put a query between them`},
	{name: "empty list", query: `source.port:( )`, errOff: 14, errMsg: `empty parentheses: put a value between them`},
	{name: "list ends in or", query: `source.port:(22 or)`, errOff: 18, errMsg: `expected a value after "or"`},
	{name: "nested query", query: `source.ip:{10.0.0.5}`, errOff: 10, errMsg: `nested field queries (field:{...}) are not supported`},
	{name: "stray brace", query: `event.action:a }`, errOff: 15, errMsg: `nested field queries`},
	{name: "unterminated quote", query: `event.action:"reject`, errOff: 13, errMsg: `the quoted value has no closing quote`},
	{name: "unknown escape", query: `event.action:a\qb`, errOff: 14, errMsg: `unknown escape`},
	{name: "short unicode escape", query: `event.action:\u00`, errOff: 13, errMsg: `unknown escape`},
	{name: "colon in a value", query: `@timestamp:2026-11-23T10:00:00Z`, errOff: 24, errMsg: `unexpected ':': quote a value that holds one`},
	{name: "colon in a list value", query: `source.ip:(2001:db8::1)`, errOff: 15, errMsg: `unexpected ':'`},
	{name: "range without field", query: `source.port:22 > 5`, errOff: 15, errMsg: `a range needs a field on its left`},
	{name: "range without value", query: `source.port >= and`, errOff: 15, errMsg: `expected a value after "source.port >="`},
	{name: "invalid utf-8", query: "event.action:a\xffb", errOff: 14, errMsg: `not valid UTF-8`},
	{name: "too deep", query: strings.Repeat("(", maxDepth+1) + "x" + strings.Repeat(")", maxDepth+1), errOff: maxDepth,
		errMsg: `more than 64 deep`},

	{name: "quoted field name with a space", query: `"source ip":x`, errOff: 0, errMsg: `unknown field "source ip"`},
	{name: "words run into a field", query: `source ip:x`, errOff: 7, errMsg: `expected AND or OR before "ip:"`},
	{name: "too many conditions", query: strings.Repeat("x or ", 2048) + "x", fields: small, errOff: 2048 * 5, // two conditions a value: the last x is one too many
		errMsg: `the query is too large: more than 4096 conditions`},
	{name: "as many conditions as allowed", query: "source.port:(" + strings.Repeat("1 or ", maxConditions-1) + "1)",
		want: `{"terms":{"source.port":[` + strings.Repeat("1,", maxConditions-1) + `1]}}`},

	// Values a field's type cannot hold.
	{name: "bad address", query: `source.ip:999.0.0.1`, errOff: 10, errMsg: `"999.0.0.1" is not an IP address or CIDR`},
	{name: "address with a zone", query: `source.ip:"fe80::1%eth0"`, errOff: 10, errMsg: `is not an IP address or CIDR`},
	{name: "two addresses", query: `source.ip:10.0.0.5 10.0.0.6`, errOff: 10,
		errMsg: `to match any of several values, list them: source.ip:(10.0.0.5 or 10.0.0.6)`},
	{name: "wildcard on ip", query: `source.ip:10.0.0.*`, errOff: 10, errMsg: `wildcards (*) work on keyword and text fields; source.ip is ip`},
	{name: "not a number", query: `source.port:ssh`, errOff: 12, errMsg: `"ssh" is not a whole number (source.port is long)`},
	{name: "not a whole number", query: `network.bytes > 1.5`, errOff: 16, errMsg: `"1.5" is not a whole number`},
	{name: "bad value in a list", query: `source.port:(22 or ssh)`, errOff: 19, errMsg: `"ssh" is not a whole number`},
	{name: "range on keyword", query: `event.action >= a`, errOff: 0, errMsg: `a range (<, <=, >, >=) works on long, date and ip fields; event.action is keyword`},
	{name: "range on a network", query: `source.ip > 10.0.0.0/8`, errOff: 12, errMsg: `is not an IP address (a range takes an address`},
	{name: "range with wildcard", query: `source.port > 1*`, errOff: 14, errMsg: `a range takes one value, without '*'`},
	{name: "time without zone", query: `@timestamp:"2026-11-23T10:00:00"`, errOff: 11, errMsg: `a time needs its zone`},
	{name: "not a date", query: `@timestamp:yesterday`, errOff: 11, errMsg: `"yesterday" is not a date: write a day (2026-11-23) or an RFC 3339 time`},
	{name: "not a boolean", query: `ok:maybe`, fields: small, errOff: 3, errMsg: `"maybe" is not true or false (ok is boolean)`},
	{name: "type that cannot be searched", query: `geo:x`, fields: small, errOff: 0, errMsg: `field geo has type geo_point, which a query cannot search`},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			fields := tc.fields
			if fields == nil {
				fields = flows
			}
			got, err := Parse(tc.query, fields)
			if tc.want == "" {
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("Parse(%q) = %v, %v; want a *SyntaxError", tc.query, dsl(t, got), err)
				}
				if se.Offset != tc.errOff || !strings.Contains(se.Msg, tc.errMsg) || se.Query != tc.query {
					t.Errorf("Parse(%q): error at %d %q; want at %d, containing %q", tc.query, se.Offset, se.Msg, tc.errOff, tc.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.query, err)
			}
			if diff := cmp.Diff(decode(t, tc.want), decode(t, dsl(t, got))); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s\ngot %s", tc.query, diff, dsl(t, got))
			}
		})
	}
}

// TestParseBareFlows checks a value without a field over the whole flows family: every keyword field once, and the
// ip fields only for an address.
func TestParseBareFlows(t *testing.T) {
	count := func(typ string) int {
		n := 0
		for _, name := range known(flows) {
			if flows[name] == typ {
				n++
			}
		}
		return n
	}
	keywords, ips := count("keyword"), count("ip")
	for q, want := range map[string]int{`reject`: keywords, `10.0.0.5`: keywords + ips, `eni-*`: keywords} {
		got, err := Parse(q, flows)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		should, _ := got["bool"].(map[string]any)["should"].([]any)
		if len(should) != want {
			t.Errorf("Parse(%q): %d clauses, want %d (%d keyword, %d ip fields)", q, len(should), want, keywords, ips)
		}
	}
	if ips == 0 || keywords < 10 {
		t.Fatalf("flows has %d keyword and %d ip fields; the registry changed under this test", keywords, ips)
	}
}

func TestSyntaxErrorText(t *testing.T) {
	_, err := Parse(`source.ip:`, flows)
	if got, want := err.Error(), `query: expected a value after "source.ip:" (at offset 10)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAnd(t *testing.T) {
	a := term("event.action", "reject")
	b := rangeOf("@timestamp", map[string]any{"gte": "now-15m"})
	for _, tc := range []struct {
		name string
		in   []map[string]any
		want string
	}{
		{"nothing", nil, `{"match_all":{}}`},
		{"only match_all", []map[string]any{matchAll(), nil}, `{"match_all":{}}`},
		{"one stays itself", []map[string]any{matchAll(), a}, `{"term":{"event.action":"reject"}}`},
		{"two", []map[string]any{a, nil, b}, `{"bool":{"filter":[{"term":{"event.action":"reject"}},{"range":{"@timestamp":{"gte":"now-15m"}}}]}}`},
		{"an and inside", []map[string]any{And(a, a), b},
			`{"bool":{"filter":[{"term":{"event.action":"reject"}},{"term":{"event.action":"reject"}},{"range":{"@timestamp":{"gte":"now-15m"}}}]}}`},
		{"a filter of another shape stays a filter", []map[string]any{{"bool": map[string]any{"filter": []any{json.RawMessage(`{"match_all":{}}`)}}}},
			`{"bool":{"filter":[{"match_all":{}}]}}`},
		{"an or stays", []map[string]any{or([]map[string]any{a, b}), b},
			`{"bool":{"filter":[{"bool":{"should":[{"term":{"event.action":"reject"}},{"range":{"@timestamp":{"gte":"now-15m"}}}],"minimum_should_match":1}},{"range":{"@timestamp":{"gte":"now-15m"}}}]}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(decode(t, tc.want), decode(t, dsl(t, And(tc.in...)))); diff != "" {
				t.Errorf("And (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFields(t *testing.T) {
	f := Fields(schema.Flows())
	for name, want := range map[string]string{
		"source.ip": "ip", "event.action": "keyword", "destination.port": "long", "@timestamp": "date",
		"aws.vpcflow.": "keyword", "aws.vpcflow.packets_lost_": "long",
	} {
		if f[name] != want {
			t.Errorf("Fields(flows)[%q] = %q, want %q", name, f[name], want)
		}
	}
	for _, fam := range schema.Families() {
		for _, r := range fam.Fields {
			if _, ok := Fields(fam)[r.Name]; ok == (r.NotIndexed || r.Type == schema.Binary) {
				t.Errorf("family %s, field %s (not indexed %v, %s): in the map is %v", fam.Name, r.Name, r.NotIndexed, r.Type, ok)
			}
		}
	}
}

func dsl(t testing.TB, c map[string]any) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal %v: %v", c, err)
	}
	return string(b)
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("unmarshal %s: %v", s, err)
	}
	return v
}

func BenchmarkParse(b *testing.B) {
	for name, q := range map[string]string{
		"seed": `source.ip:10.0.0.0/8 AND event.action:reject AND destination.ip:*`,
		"bare": `10.0.0.5`,
		// A long run of words is one value: building it must stay linear in its length.
		"long value": "event.action:" + strings.Repeat("a ", 50000),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(q, flows); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
