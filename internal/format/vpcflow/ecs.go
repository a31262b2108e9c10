package vpcflow

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/schema"
)

// A DocField is one row of the ECS mapping table: a row of the registry's flows family (internal/schema) with the
// function that writes its value. The registry also makes the README's table and the sink's index template.
type DocField struct {
	Name   string // dotted ECS name
	Type   string // the index type: "ip", "date", "long" or "keyword"
	Source string // the flow-log field(s), or how the value is made
	Array  bool   // the value is a JSON array
	write  writeFunc
	needs  FieldSet // the flow-log fields the value is made from; none for values every document has
	// enriched: written only with an enrichment context (schema.Field.Enriched).
	enriched bool
}

// A writeFunc appends a field's JSON value to dst; false when the flow has none (dst is then cut back).
type writeFunc func(dst []byte, c *docCtx) ([]byte, bool)

// UnknownFieldsPrefix is where the values of unknown format fields go: aws.vpcflow.<name, '-' as '_'>, keyword.
const UnknownFieldsPrefix = schema.VPCFlowLogPrefix

// docCtx is what one document is made from. It lives in an Encoder, so handing it to the table's functions
// costs no allocation.
type docCtx struct {
	f    *Flow
	src  *Source // nil, or &srcv
	srcv Source
	x    *enrich.Context // nil: no enrichment

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

// docFields is the registry's flows family with the encoder's writers, made once: the registry is never consulted
// per event.
var docFields = docTable(schema.Flows().Fields, writers())

// docTable joins the registry's rows to their writers. A row without a writer is left out of the documents
// (TestWritersFollowRegistry fails on it), as is an Any row: unknown fields are written from the format.
func docTable(rows []schema.Field, w map[string]writeFunc) []DocField {
	var t []DocField
	for _, r := range rows {
		if r.Any || w[r.Name] == nil {
			continue
		}
		df := DocField{Name: r.Name, Type: string(r.Type), Source: r.Source, Array: r.Array, write: w[r.Name], enriched: r.Enriched}
		for _, n := range r.Needs {
			df.needs.add(LookupField(n))
		}
		t = append(t, df)
	}
	return t
}

// writers returns the write function of every document field, by name: those of the values derived or written
// some other way than as they are, then one per flow-log field stored as it is, at its registry target.
func writers() map[string]writeFunc {
	has := func(c *docCtx, f Field) bool { return c.f.Present.Has(f) }
	w := map[string]writeFunc{
		"@timestamp": func(dst []byte, c *docCtx) ([]byte, bool) {
			if has(c, FieldStart) {
				return c.appendDate(dst, c.f.Start*1000), true
			}
			if c.src == nil || c.src.Timestamp < 0 || c.src.Timestamp > maxTime*1000 {
				return dst, false
			}
			return c.appendDate(dst, c.src.Timestamp), true
		},
		"event.kind":     constant(`"event"`),
		"event.category": constant(`["network"]`),
		"event.type": func(dst []byte, c *docCtx) ([]byte, bool) {
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
		},
		"event.action": func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.Action {
			case ActionAccept:
				return append(dst, `"accept"`...), true
			case ActionReject:
				return append(dst, `"reject"`...), true
			}
			return dst, false
		},
		"event.outcome": func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.Action {
			case ActionAccept:
				return append(dst, `"success"`...), true
			case ActionReject:
				return append(dst, `"failure"`...), true
			}
			return dst, false
		},
		"event.start": func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldStart) {
				return dst, false
			}
			return c.appendDate(dst, c.f.Start*1000), true
		},
		"event.end": func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldEnd) {
				return dst, false
			}
			return c.appendDate(dst, c.f.End*1000), true
		},
		"event.id": func(dst []byte, c *docCtx) ([]byte, bool) {
			if c.src == nil || c.src.EventID == "" {
				return dst, false
			}
			return jsonw.AppendString(dst, c.src.EventID), true
		},
		"network.iana_number": func(dst []byte, c *docCtx) ([]byte, bool) {
			if !has(c, FieldProtocol) {
				return dst, false
			}
			dst = append(dst, '"')
			return append(strconv.AppendUint(dst, uint64(c.f.Protocol), 10), '"'), true
		},
		"network.transport": func(dst []byte, c *docCtx) ([]byte, bool) {
			name := protocolNames[c.f.Protocol]
			if !has(c, FieldProtocol) || name == "" {
				return dst, false
			}
			return jsonw.AppendString(dst, name), true
		},
		"network.type": func(dst []byte, c *docCtx) ([]byte, bool) {
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
		},
		"network.direction": func(dst []byte, c *docCtx) ([]byte, bool) {
			switch c.f.FlowDirection {
			case DirectionIngress:
				return append(dst, `"ingress"`...), true
			case DirectionEgress:
				return append(dst, `"egress"`...), true
			}
			return dst, false
		},
		"cloud.provider": constant(`"aws"`),
		"related.ip":     appendRelated,
		"aws.vpcflow.log_status": func(dst []byte, c *docCtx) ([]byte, bool) {
			return jsonw.AppendString(dst, c.f.LogStatus.String()), has(c, FieldLogStatus)
		},
		"aws.vpcflow.tcp_flags": func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, uint64(c.f.TCPFlags), 10), has(c, FieldTCPFlags)
		},
		"aws.vpcflow.tcp_flags_array": appendTCPFlagNames,
		"aws.vpcflow.traffic_path": func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, uint64(c.f.TrafficPath), 10), has(c, FieldTrafficPath)
		},
		"aws.cloudwatch.log_group":    sourceField(func(s *Source) string { return s.LogGroup }),
		"aws.cloudwatch.log_stream":   sourceField(func(s *Source) string { return s.LogStream }),
		"aws.kinesis.shard_id":        sourceField(func(s *Source) string { return s.ShardID }),
		"aws.kinesis.sequence_number": sourceField(func(s *Source) string { return s.SequenceNumber }),
		"log.file.path":               sourceField(func(s *Source) string { return s.File }),
		"log.offset": func(dst []byte, c *docCtx) ([]byte, bool) {
			if c.src == nil || c.src.File == "" {
				return dst, false
			}
			return strconv.AppendInt(dst, c.src.Offset, 10), true
		},
	}
	addEnrichedWriters(w)
	for _, r := range schema.VPCFlowLogFields() {
		if plain := plainField(LookupField(r.Name)); plain != nil && w[r.Target] == nil {
			w[r.Target] = plain
		}
	}
	return w
}

// plainField writes a flow-log field's value as it is, for the kinds that are a string, an address or a number;
// nil for the kinds that need a writer of their own.
func plainField(fl Field) writeFunc {
	spec := &fields[fl]
	switch spec.kind {
	case kindString:
		str := spec.str
		return func(dst []byte, c *docCtx) ([]byte, bool) {
			s := *str(c.f)
			if s == "" {
				return dst, false
			}
			return jsonw.AppendString(dst, s), true
		}
	case kindAddr:
		addr := spec.addr
		return func(dst []byte, c *docCtx) ([]byte, bool) {
			a := *addr(c.f)
			if !a.IsValid() {
				return dst, false
			}
			return appendAddr(dst, a), true
		}
	case kindCount:
		count := spec.count
		return func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, *count(c.f), 10), c.f.Present.Has(fl)
		}
	case kindPort:
		port := spec.port
		return func(dst []byte, c *docCtx) ([]byte, bool) {
			return strconv.AppendUint(dst, uint64(*port(c.f)), 10), c.f.Present.Has(fl)
		}
	}
	return nil
}

// sourceField writes a string of the line's Source, left out when there is no Source or the string is empty.
func sourceField(get func(*Source) string) writeFunc {
	return func(dst []byte, c *docCtx) ([]byte, bool) {
		if c.src == nil {
			return dst, false
		}
		v := get(c.src)
		if v == "" {
			return dst, false
		}
		return jsonw.AppendString(dst, v), true
	}
}

func constant(v string) writeFunc {
	return func(dst []byte, _ *docCtx) ([]byte, bool) { return append(dst, v...), true }
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
	write    writeFunc
	unknown  bool // aws.vpcflow: the format's unknown fields follow the known ones
	// enriched: every field under the node is an enrichment, so a document without one skips the node whole, at
	// the cost of one test rather than of each field's key.
	enriched bool
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
	markEnriched(root, table)
	for _, c := range root.children {
		if c.key == `,"aws":` {
			for _, v := range c.children {
				v.unknown = unknown && v.key == `,"vpcflow":`
			}
		}
	}
	return root
}

// markEnriched sets enriched on each node all of whose fields are enrichments.
func markEnriched(root *docNode, table []DocField) {
	plain := map[string]bool{} // every prefix of a field that is not an enrichment
	for _, df := range table {
		if df.enriched {
			continue
		}
		for i := range df.Name {
			if df.Name[i] == '.' {
				plain[df.Name[:i]] = true
			}
		}
		plain[df.Name] = true
	}
	var walk func(n *docNode, path string)
	walk = func(n *docNode, path string) {
		for _, c := range n.children {
			name, _ := strconv.Unquote(c.key[1 : len(c.key)-1])
			p := name
			if path != "" {
				p = path + "." + name
			}
			c.enriched = !plain[p] && !c.unknown
			walk(c, p)
		}
	}
	walk(root, "")
}

// AppendDocumentWith is AppendDocument enriched with x (nil or empty: as AppendDocument).
func (e *Encoder) AppendDocumentWith(dst []byte, f *Flow, src *Source, x *enrich.Context) []byte {
	if x.Empty() {
		return e.AppendDocument(dst, f, src)
	}
	e.c.x = x
	dst = e.AppendDocument(dst, f, src)
	e.c.x = nil
	return dst
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
		if ch.enriched && c.x == nil {
			continue
		}
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
			dst = jsonw.AppendString(dst, c.f.Unknown[i])
		}
	}
	return dst, first
}

// appendDate appends ms (milliseconds since the epoch) as a quoted RFC 3339 UTC time, clamped to the years 1970 to
// 9999 that flow logs can carry.
func appendDate(dst []byte, ms int64) []byte {
	return jsonw.AppendDate(dst, max(0, min(ms, maxTime*1000+999)))
}

// protocolNames are the IANA keywords of the protocols flow logs commonly carry (lower case, as ECS writes them).
var protocolNames = [256]string{
	0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 17: "udp", 41: "ipv6", 43: "ipv6-route",
	44: "ipv6-frag", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 89: "ospf",
	103: "pim", 112: "vrrp", 115: "l2tp", 132: "sctp", 136: "udplite",
}
