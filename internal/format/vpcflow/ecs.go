package vpcflow

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A DocField is one row of the ECS mapping table: a field of the document, its index type, and where its value
// comes from. The README prints this table; the sink's index template maps exactly these fields.
type DocField struct {
	Name   string // dotted ECS name
	Type   string // "ip", "date", "long" or "keyword"
	Source string // the flow-log field(s), or how the value is made
	Array  bool   // the value is a JSON array
	write  func(dst []byte, c *docCtx) ([]byte, bool)
	needs  FieldSet // the flow-log fields the value is made from; none for values every document has
}

// UnknownFieldsPrefix is where the values of unknown format fields go: aws.vpcflow.<name, '-' as '_'>, keyword.
const UnknownFieldsPrefix = "aws.vpcflow."

// docCtx is what one document is made from. It lives in an Encoder, so handing it to the table's functions
// costs no allocation.
type docCtx struct {
	f    *Flow
	src  *Source // nil, or &srcv
	srcv Source

	// The last date written, quoted: @timestamp and event.start of a flow are one instant, and the flows of a
	// batch share their capture window, so most dates are copied rather than formatted.
	dateMS  int64
	dateLen int
	date    [32]byte
}

// appendDate is appendDate through the context's cache of the last date.
func (c *docCtx) appendDate(dst []byte, ms int64) []byte {
	if c.dateLen == 0 || c.dateMS != ms {
		c.dateMS, c.dateLen = ms, len(appendDate(c.date[:0], ms))
	}
	return append(dst, c.date[:c.dateLen]...)
}

// An Encoder appends ECS documents. The zero value is ready; it is not safe for concurrent use.
type Encoder struct{ c docCtx }

// DocumentFields returns the ECS mapping table, in document order. Unknown format fields are not listed; they
// are keywords under UnknownFieldsPrefix.
func DocumentFields() []DocField { return append([]DocField(nil), docFields...) }

var docFields = withNeeds(buildDocFields())

// withNeeds records which flow-log fields each derived document field is made from, so that a format's plan
// leaves out what its lines can never have.
func withNeeds(t []DocField) []DocField {
	needs := map[string][]Field{
		"event.type": {FieldAction, FieldSrcAddr, FieldDstAddr}, "event.action": {FieldAction}, "event.outcome": {FieldAction},
		"event.start": {FieldStart}, "event.end": {FieldEnd}, "source.ip": {FieldSrcAddr}, "source.port": {FieldSrcPort},
		"destination.ip": {FieldDstAddr}, "destination.port": {FieldDstPort}, "network.iana_number": {FieldProtocol},
		"network.transport": {FieldProtocol}, "network.type": {FieldSrcAddr, FieldDstAddr}, "network.bytes": {FieldBytes},
		"network.packets": {FieldPackets}, "network.direction": {FieldFlowDirection}, "cloud.account.id": {FieldAccountID},
		"cloud.region": {FieldRegion}, "cloud.availability_zone": {FieldAZID},
		"related.ip": {FieldSrcAddr, FieldDstAddr, FieldPktSrcAddr, FieldPktDstAddr},
	}
	for i := range t {
		for _, f := range needs[t[i].Name] {
			t[i].needs.add(f)
		}
	}
	return t
}

func buildDocFields() []DocField {
	has := func(c *docCtx, f Field) bool { return c.f.Present.Has(f) }
	t := []DocField{
		{"@timestamp", "date", "start (the event timestamp when the format has no start)", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			if has(c, FieldStart) {
				return c.appendDate(dst, c.f.Start*1000), true
			}
			if c.src == nil || c.src.Timestamp < 0 || c.src.Timestamp > maxTime*1000 {
				return dst, false
			}
			return c.appendDate(dst, c.src.Timestamp), true
		}, 0},
		{"event.kind", "keyword", `"event"`, false, constant(`"event"`), 0},
		{"event.category", "keyword", `["network"]`, true, constant(`["network"]`), 0},
		{"event.type", "keyword", `action: ["connection","allowed"] for ACCEPT, ["connection","denied"] for REJECT; ["connection"] for a record with addresses but no action, unless NODATA or SKIPDATA`, true, func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.Action {
			case ActionAccept:
				return append(dst, `["connection","allowed"]`...), true
			case ActionReject:
				return append(dst, `["connection","denied"]`...), true
			}
			if c.f.HasAddresses() && !c.f.NoTraffic() {
				return append(dst, `["connection"]`...), true
			}
			return dst, false
		}, 0},
		{"event.action", "keyword", "action: accept or reject", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.Action {
			case ActionAccept:
				return append(dst, `"accept"`...), true
			case ActionReject:
				return append(dst, `"reject"`...), true
			}
			return dst, false
		}, 0},
		{"event.outcome", "keyword", "action: success for ACCEPT, failure for REJECT", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.Action {
			case ActionAccept:
				return append(dst, `"success"`...), true
			case ActionReject:
				return append(dst, `"failure"`...), true
			}
			return dst, false
		}, 0},
		{"event.start", "date", "start", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldStart) {
				return dst, false
			}
			return c.appendDate(dst, c.f.Start*1000), true
		}, 0},
		{"event.end", "date", "end", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldEnd) {
				return dst, false
			}
			return c.appendDate(dst, c.f.End*1000), true
		}, 0},
		{"event.id", "keyword", "the CloudWatch Logs event id", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			if c.src == nil || c.src.EventID == "" {
				return dst, false
			}
			return appendString(dst, c.src.EventID), true
		}, 0},
		{"source.ip", "ip", "srcaddr", false, addrField(func(f *Flow) netip.Addr { return f.SrcAddr }), 0},
		{"source.port", "long", "srcport", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, uint64(c.f.SrcPort), 10), has(c, FieldSrcPort)
		}, 0},
		{"destination.ip", "ip", "dstaddr", false, addrField(func(f *Flow) netip.Addr { return f.DstAddr }), 0},
		{"destination.port", "long", "dstport", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, uint64(c.f.DstPort), 10), has(c, FieldDstPort)
		}, 0},
		{"network.iana_number", "keyword", "protocol (the number, as text)", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldProtocol) {
				return dst, false
			}
			dst = append(dst, '"')
			return append(strconv.AppendUint(dst, uint64(c.f.Protocol), 10), '"'), true
		}, 0},
		{"network.transport", "keyword", "protocol: its IANA keyword (tcp, udp, icmp, ipv6-icmp, ...)", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			name := protocolNames[c.f.Protocol]
			if !has(c, FieldProtocol) || name == "" {
				return dst, false
			}
			return appendString(dst, name), true
		}, 0},
		{"network.type", "keyword", "srcaddr/dstaddr: ipv4 or ipv6", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			a := c.f.SrcAddr
			if !a.IsValid() {
				a = c.f.DstAddr
			}
			switch {
			case !a.IsValid():
				return dst, false
			case a.Is4() || a.Is4In6():
				return append(dst, `"ipv4"`...), true
			}
			return append(dst, `"ipv6"`...), true
		}, 0},
		{"network.bytes", "long", "bytes", false, countField(FieldBytes), 0},
		{"network.packets", "long", "packets", false, countField(FieldPackets), 0},
		{"network.direction", "keyword", "flow-direction: ingress or egress", false, func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.FlowDirection {
			case DirectionIngress:
				return append(dst, `"ingress"`...), true
			case DirectionEgress:
				return append(dst, `"egress"`...), true
			}
			return dst, false
		}, 0},
		{"cloud.provider", "keyword", `"aws"`, false, constant(`"aws"`), 0},
		{"cloud.account.id", "keyword", "account-id", false, stringField(FieldAccountID), 0},
		{"cloud.region", "keyword", "region", false, stringField(FieldRegion), 0},
		{"cloud.availability_zone", "keyword", "az-id", false, stringField(FieldAZID), 0},
		{"related.ip", "ip", "srcaddr, dstaddr, pkt-srcaddr, pkt-dstaddr (distinct)", true, appendRelated, 0},
	}
	for fl := FieldVersion; fl < numFields; fl++ {
		spec := &fields[fl]
		if spec.ecs != "" {
			continue
		}
		name := UnknownFieldsPrefix + docName(spec.name)
		needs := FieldSet(1) << fl
		switch spec.kind {
		case kindString:
			t = append(t, DocField{name, "keyword", spec.name, false, stringField(fl), needs})
		case kindAddr:
			t = append(t, DocField{name, "ip", spec.name, false, addrField(func(f *Flow) netip.Addr { return *spec.addr(f) }), needs})
		case kindCount:
			t = append(t, DocField{name, "long", spec.name, false, countField(fl), needs})
		case kindLogStatus:
			t = append(t, DocField{name, "keyword", spec.name + ": OK, NODATA or SKIPDATA", false, func(dst []byte, c *docCtx) ([]byte, bool) {
				return appendString(dst, c.f.LogStatus.String()), has(c, FieldLogStatus)
			}, needs})
		case kindTrafficPath:
			t = append(t, DocField{name, "long", spec.name + ": 1 to 8", false, func(dst []byte, c *docCtx) ([]byte, bool) {
				return strconv.AppendUint(dst, uint64(c.f.TrafficPath), 10), has(c, FieldTrafficPath)
			}, needs})
		case kindTCPFlags:
			t = append(t,
				DocField{name, "long", spec.name + " (the bits as a number)", false, func(dst []byte, c *docCtx) ([]byte, bool) {
					return strconv.AppendUint(dst, uint64(c.f.TCPFlags), 10), has(c, FieldTCPFlags)
				}, needs},
				DocField{name + "_array", "keyword", spec.name + ": names of the bits set (fin, syn, rst, psh, ack, urg, ece, cwr)", true, appendTCPFlagNames, needs})
		}
	}
	return append(t,
		DocField{"aws.cloudwatch.log_group", "keyword", "the CloudWatch Logs group", false,
			sourceField(func(s *Source) string { return s.LogGroup }), 0},
		DocField{"aws.cloudwatch.log_stream", "keyword", "the CloudWatch Logs stream", false,
			sourceField(func(s *Source) string { return s.LogStream }), 0},
		DocField{"aws.kinesis.shard_id", "keyword", "the Kinesis shard of the record that first delivered the flow", false,
			sourceField(func(s *Source) string { return s.ShardID }), 0},
		DocField{"aws.kinesis.sequence_number", "keyword", "the sequence number of that record", false,
			sourceField(func(s *Source) string { return s.SequenceNumber }), 0},
	)
}

// sourceField writes a string of the line's Source, left out when there is no Source or the string is empty.
func sourceField(get func(*Source) string) func([]byte, *docCtx) ([]byte, bool) {
	return func(dst []byte, c *docCtx) ([]byte, bool) {
		if c.src == nil {
			return dst, false
		}
		v := get(c.src)
		if v == "" {
			return dst, false
		}
		return appendString(dst, v), true
	}
}

func constant(v string) func([]byte, *docCtx) ([]byte, bool) {
	return func(dst []byte, _ *docCtx) ([]byte, bool) { return append(dst, v...), true }
}

func stringField(fl Field) func([]byte, *docCtx) ([]byte, bool) {
	str := fields[fl].str
	return func(dst []byte, c *docCtx) ([]byte, bool) {
		s := *str(c.f)
		if s == "" {
			return dst, false
		}
		return appendString(dst, s), true
	}
}

func countField(fl Field) func([]byte, *docCtx) ([]byte, bool) {
	count := fields[fl].count
	return func(dst []byte, c *docCtx) ([]byte, bool) {
		return strconv.AppendUint(dst, *count(c.f), 10), c.f.Present.Has(fl)
	}
}

func addrField(get func(*Flow) netip.Addr) func([]byte, *docCtx) ([]byte, bool) {
	return func(dst []byte, c *docCtx) ([]byte, bool) {
		a := get(c.f)
		if !a.IsValid() {
			return dst, false
		}
		return appendAddr(dst, a), true
	}
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	dst = append(dst, '"')
	return append(a.AppendTo(dst), '"')
}

func appendRelated(dst []byte, c *docCtx) ([]byte, bool) {
	all := [4]netip.Addr{c.f.SrcAddr, c.f.DstAddr, c.f.PktSrcAddr, c.f.PktDstAddr}
	n := 0
	for i, a := range all {
		if !a.IsValid() {
			continue
		}
		dup := false
		for _, b := range all[:i] {
			dup = dup || a == b
		}
		if dup {
			continue
		}
		if n == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		dst = appendAddr(dst, a)
		n++
	}
	if n == 0 {
		return dst, false
	}
	return append(dst, ']'), true
}

func appendTCPFlagNames(dst []byte, c *docCtx) ([]byte, bool) {
	if !c.f.Present.Has(FieldTCPFlags) || c.f.TCPFlags&0xff == 0 {
		return dst, false
	}
	dst = append(dst, '[')
	first := true
	for i, n := range tcpFlagNames {
		if c.f.TCPFlags&(1<<i) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, '"')
		dst = append(dst, n...)
		dst = append(dst, '"')
	}
	return append(dst, ']'), true
}

// docNode is the table arranged as the document's nested objects, built once.
type docNode struct {
	key      string // `,"name":`: the comma for all members but the first, written with the key in one append
	children []*docNode
	write    func([]byte, *docCtx) ([]byte, bool)
	unknown  bool // aws.vpcflow: the format's unknown fields follow the known ones
}

var docTree = buildTree(docFields, true)

// plan returns the document tree for the format: only the fields its lines can have.
func plan(f *Format) *docNode {
	var t []DocField
	for _, df := range docFields {
		if df.Name == "aws.cloudwatch.log_group" && len(f.unknown) > 0 {
			t = append(t, DocField{Name: "aws.vpcflow"}) // where the unknown fields go
		}
		if df.needs == 0 || df.needs&f.set != 0 {
			t = append(t, df)
		}
	}
	return buildTree(t, len(f.unknown) > 0)
}

func buildTree(table []DocField, unknown bool) *docNode {
	root := &docNode{}
	for _, df := range table {
		n := root
		for _, part := range strings.Split(df.Name, ".") {
			var next *docNode
			for _, c := range n.children {
				if c.key == ","+strconv.Quote(part)+":" {
					next = c
				}
			}
			if next == nil {
				next = &docNode{key: "," + strconv.Quote(part) + ":"}
				n.children = append(n.children, next)
			}
			n = next
		}
		n.write = df.write
	}
	for _, c := range root.children {
		if c.key == `,"aws":` {
			for _, v := range c.children {
				v.unknown = unknown && v.key == `,"vpcflow":`
			}
		}
	}
	return root
}

// AppendDocument appends the ECS document (the _source, one JSON object, no newline) of the flow f, which came from
// src (nil when unknown), to dst. It allocates nothing when dst has room. Absent values are left out, and so are
// objects left empty.
func (e *Encoder) AppendDocument(dst []byte, f *Flow, src *Source) []byte {
	c := &e.c
	c.f, c.src = f, nil
	if src != nil {
		c.srcv = *src
		c.src = &c.srcv
	}
	tree := docTree
	if f.Format != nil {
		tree = f.Format.docPlan()
	}
	dst = append(dst, '{')
	dst, _ = tree.appendMembers(dst, c, true)
	c.f = nil
	return append(dst, '}')
}

// appendMembers appends n's members after '{'; first reports whether none has been written yet.
func (n *docNode) appendMembers(dst []byte, c *docCtx, first bool) ([]byte, bool) {
	for _, ch := range n.children {
		mark := len(dst)
		if first {
			dst = append(dst, ch.key[1:]...)
		} else {
			dst = append(dst, ch.key...)
		}
		var ok bool
		if ch.write != nil {
			dst, ok = ch.write(dst, c)
		} else if len(ch.children) == 0 && !ch.unknown {
			ok = false
		} else {
			dst = append(dst, '{')
			var empty bool
			dst, empty = ch.appendMembers(dst, c, true)
			ok = !empty
			dst = append(dst, '}')
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	if n.unknown && c.f.Format != nil {
		for i, key := range c.f.Format.unknownKey {
			if i >= len(c.f.Unknown) || c.f.Unknown[i] == "" {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, key...)
			dst = appendString(dst, c.f.Unknown[i])
		}
	}
	return dst, first
}

// appendDate appends ms (milliseconds since the epoch, 0 to year 9999) as a quoted RFC 3339 UTC time, with
// milliseconds only when they are not zero.
func appendDate(dst []byte, ms int64) []byte {
	ms = max(0, min(ms, maxTime*1000+999))
	sec := ms / 1000
	y, mo, d := civil(sec / 86400)
	s := sec % 86400
	dst = append(dst, '"')
	dst = appendInt(dst, y, 4)
	dst = append(dst, '-')
	dst = appendInt(dst, mo, 2)
	dst = append(dst, '-')
	dst = appendInt(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendInt(dst, s/3600, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, s/60%60, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, s%60, 2)
	if frac := ms % 1000; frac != 0 {
		dst = append(dst, '.')
		dst = appendInt(dst, frac, 3)
	}
	return append(dst, 'Z', '"')
}

// civil converts days since 1970-01-01 (non-negative) to a date (Howard Hinnant's days_from_civil, inverted).
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func appendInt(dst []byte, v int64, width int) []byte {
	var b [20]byte
	i := len(b)
	for v > 0 || i > len(b)-width {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[i:]...)
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as encoding/json does.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hex = "0123456789abcdef"

// protocolNames are the IANA keywords of the protocols flow logs commonly carry (lower case, as ECS writes them).
var protocolNames = [256]string{
	0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 17: "udp", 41: "ipv6", 43: "ipv6-route",
	44: "ipv6-frag", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 89: "ospf",
	103: "pim", 112: "vrrp", 115: "l2tp", 132: "sctp", 136: "udplite",
}
