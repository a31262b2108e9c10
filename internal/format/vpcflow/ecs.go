package vpcflow

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/jsonw"
	"github.com/kinflow/kinflow/internal/schema"
)

// A DocField is one row of the ECS mapping table: a row of the registry's flows family (internal/schema) with the
// writer of its value. The registry also makes the README's table and the sink's index template.
type DocField struct {
	Name   string // dotted ECS name
	Type   string // the index type: "ip", "date", "long" or "keyword"
	Source string // the flow-log field(s), or how the value is made
	Array  bool   // the value is a JSON array
	write  writer
	needs  FieldSet // the flow-log fields the value is made from; none for values every document has
	// enriched: written only with an enrichment context (schema.Field.Enriched).
	enriched bool
}

// A writer says how a field's value is written: by which op of the encoder's loop (program.run), and what that op
// reads. One switch in one loop rather than a call through a function per field (BenchmarkEncode).
type writer struct {
	op    opCode
	field Field       // opString, opAddr, opCount, opPort, opDate: the flow-log field the value is
	text  string      // opConst: the value, as JSON
	words *[4]string  // opAction, opDirection, opLogStatus: the JSON value of each value of the enum; "" for none
	src   sourceField // opSource: which string of the Source
	index int         // opUnknown: which of the format's unknown fields
	off   uintptr     // opString, opAddr, opCount, opPort: where field lies in a Flow (offsetOf)
	fn    writeFunc   // opFunc
	key   key         // what of a flow the value is made from, when it is one small thing (see key)
}

// An opCode is what one step of a document program writes: a value of the flow, or a run of them.
type opCode uint8

const (
	opNone  opCode = iota // no writer: the field is left out
	opConst               // a constant value, folded into the program's constant runs when it is made

	// The values of a flow: the leaves of a document tree.
	opUnknown      // index: the format's unknown field, as a keyword
	opTimestamp    // start, or the event timestamp
	opDate         // field: start or end
	opEventType    // from action, addresses and log-status
	opAction       // words by Action
	opDirection    // words by FlowDirection
	opLogStatus    // words by LogStatus, when the field is present
	opIANANumber   // protocol, as a string
	opTransport    // protocol, as its name
	opNetworkType  // ipv4 or ipv6, from srcaddr or dstaddr
	opRelated      // the distinct addresses
	opTCPFlags     // tcp-flags, as a number
	opTCPFlagNames // tcp-flags, as names
	opTrafficPath  // traffic-path, as a number
	opString       // field, as it is
	opAddr         // field, as it is
	opCount        // field, as it is
	opPort         // field, as it is
	opSource       // a string of the Source
	opRecord       // sub: a run of the record's strings of the Source, written through the record cache
	opTable        // sub: a run of values of one key, written from its table
	opOffset       // the Source's offset, when it has a file
	opFunc         // fn: the enrichment fields
)

// A sourceField is a string of a Source that a document keeps.
type sourceField uint8

const (
	srcLogGroup sourceField = iota
	srcLogStream
	srcEventID
	srcShardID
	srcSequenceNumber
	srcFile
)

// A writeFunc appends a field's JSON value to dst; false when the flow has none (it then appends nothing). The
// enrichment fields are written by writeFuncs (opFunc): they read the enrichment context.
type writeFunc func(dst []byte, c *docCtx) ([]byte, bool)

// UnknownFieldsPrefix is where the values of unknown format fields go: aws.vpcflow.<name, '-' as '_'>, keyword.
const UnknownFieldsPrefix = schema.VPCFlowLogPrefix

// docCtx is what the enrichment writers read, and the encoder's caches. It lives in an Encoder, so handing it to
// the writers costs no allocation.
type docCtx struct {
	f *Flow           // the flow of the document being written, or of the last one (see AppendDocument)
	x *enrich.Context // nil: no enrichment

	sig []byte // when probing: a byte per op, set to 0 for each value the flow has not

	// The dates of a batch's flows are mostly of one day: the encoder keeps its text.
	dates jsonw.Dates

	record recordCache

	// Where the document being written has written @timestamp from start, source.ip and destination.ip (run
	// resets them): event.start is a copy of the first, related.ip of the others (an IPv6 address costs netip
	// ten times what an IPv4 one costs appendAddr).
	start, srcAddr, dstAddr [2]int
}

// appendDate is appendDate through the context's dates.
func (c *docCtx) appendDate(dst []byte, ms int64) []byte {
	return c.dates.AppendDate(dst, max(0, min(ms, maxTime*1000+999)))
}

// An Encoder appends ECS documents. The zero value is ready; it is not safe for concurrent use.
type Encoder struct {
	c       docCtx
	last    *program // the program of the last document
	prev    *program // and the one before, of another signature
	sig     []byte   // the last signature probed
	scratch []byte   // the probe's output, dropped
}

// DocumentFields returns the ECS mapping table, in document order. Unknown format fields are not listed; they
// are keywords under UnknownFieldsPrefix.
func DocumentFields() []DocField { return append([]DocField(nil), docFields...) }

// docFields is the registry's flows family with the encoder's writers, made once: the registry is never consulted
// per event.
var docFields = docTable(schema.Flows().Fields, writers())

// docTable joins the registry's rows to their writers. A row without a writer is left out of the documents
// (TestWritersFollowRegistry fails on it), as is an Any row: unknown fields are written from the format.
func docTable(rows []schema.Field, w map[string]writer) []DocField {
	var t []DocField
	for _, r := range rows {
		if r.Any || w[r.Name].op == opNone {
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

// writers returns the writer of every document field, by name: those of the values derived or written some other
// way than as they are, then one per flow-log field stored as it is, at its registry target.
func writers() map[string]writer {
	w := map[string]writer{
		"@timestamp":     {op: opTimestamp},
		"event.kind":     constant(`"event"`),
		"event.category": constant(`["network"]`),
		"event.type":     {op: opEventType, key: keyAction},
		"event.action":   {op: opAction, key: keyAction, words: &[4]string{ActionAccept: `"accept"`, ActionReject: `"reject"`}},
		"event.outcome":  {op: opAction, key: keyAction, words: &[4]string{ActionAccept: `"success"`, ActionReject: `"failure"`}},
		"event.start":    {op: opDate, field: FieldStart},
		"event.end":      {op: opDate, field: FieldEnd},
		"event.id":       {op: opSource, src: srcEventID},

		"network.iana_number": {op: opIANANumber, key: keyProtocol},
		"network.transport":   {op: opTransport, key: keyProtocol},
		"network.type":        {op: opNetworkType},
		"network.direction": {op: opDirection, words: &[4]string{
			DirectionIngress: `"` + DirectionIngress.String() + `"`, DirectionEgress: `"` + DirectionEgress.String() + `"`}},
		"cloud.provider": constant(`"aws"`),
		"related.ip":     {op: opRelated},
		// A log-status the line has is written even if it is none of the words (a Flow made by hand): "".
		"aws.vpcflow.log_status": {op: opLogStatus, words: &[4]string{
			`""`, `"` + LogStatusOK.String() + `"`, `"` + LogStatusNoData.String() + `"`, `"` + LogStatusSkipData.String() + `"`}},
		"aws.vpcflow.tcp_flags":       {op: opTCPFlags},
		"aws.vpcflow.tcp_flags_array": {op: opTCPFlagNames},
		"aws.vpcflow.traffic_path":    {op: opTrafficPath},
		"aws.cloudwatch.log_group":    {op: opSource, src: srcLogGroup},
		"aws.cloudwatch.log_stream":   {op: opSource, src: srcLogStream},
		"aws.kinesis.shard_id":        {op: opSource, src: srcShardID},
		"aws.kinesis.sequence_number": {op: opSource, src: srcSequenceNumber},
		"log.file.path":               {op: opSource, src: srcFile},
		"log.offset":                  {op: opOffset},
	}
	addEnrichedWriters(w)
	for _, r := range schema.VPCFlowLogFields() {
		if plain := plainField(LookupField(r.Name)); plain.op != opNone && w[r.Target].op == opNone {
			w[r.Target] = plain
		}
	}
	return w
}

// plainField writes a flow-log field's value as it is, for the kinds that are a string, an address or a number;
// no writer for the kinds that need one of their own.
func plainField(fl Field) writer {
	w := writer{field: fl}
	switch fields[fl].kind {
	case kindString:
		w.op = opString
	case kindAddr:
		w.op = opAddr
	case kindCount:
		w.op = opCount
	case kindPort:
		w.op = opPort
	default:
		return writer{}
	}
	w.off = offsetOf(&fields[fl], fl) // of a field of the kind's type: the accessor of the kind gave it
	return w
}

func constant(v string) writer { return writer{op: opConst, text: v} }

// function is the writer of a field written by fn.
func function(fn writeFunc) writer { return writer{op: opFunc, fn: fn} }

// appendAddr appends a as a JSON string, as netip writes it: an IPv4 address by hand, in one call, its octets'
// digits and dots as 4-byte stores from a table straight into dst (BenchmarkEncode: netip's digit by digit
// formatting was a tenth of a document's time), any other by netip.
func appendAddr(dst []byte, a netip.Addr) []byte {
	if !a.Is4() {
		dst = append(dst, '"')
		return append(a.AppendTo(dst), '"')
	}
	ip := a.As4()
	dst = slices.Grow(dst, 32)
	n := len(dst)
	b := dst[n : n+32]
	// Octet k's digits and dot go at 1 plus the lengths of those before it: at most 13 for the last, so the masks
	// spare the bounds checks.
	o0, o1, o2, o3 := octets[ip[0]], octets[ip[1]], octets[ip[2]], octets[ip[3]]
	k1 := 1 + int(o0>>32)
	k2 := k1 + int(o1>>32)
	k3 := k2 + int(o2>>32)
	end := k3 + int(o3>>32) // past the last dot
	b[0] = '"'
	binary.LittleEndian.PutUint32(b[1:], uint32(o0))
	binary.LittleEndian.PutUint32(b[k1&15:], uint32(o1))
	binary.LittleEndian.PutUint32(b[k2&15:], uint32(o2))
	binary.LittleEndian.PutUint32(b[k3&15:], uint32(o3))
	b[(end-1)&31] = '"' // over the last dot
	return dst[:n+end]
}

// octets holds, per value, its decimal digits and a dot in the low 32 bits, the first in the lowest byte, and
// their number (2 to 4) above.
var octets = func() (t [256]uint64) {
	for v := range 256 {
		s := strconv.Itoa(v) + "."
		for i := len(s) - 1; i >= 0; i-- {
			t[v] = t[v]<<8 | uint64(s[i])
		}
		t[v] |= uint64(len(s)) << 32
	}
	return t
}()

// appendRelated appends the distinct valid addresses among srcaddr, dstaddr, pkt-srcaddr and pkt-dstaddr, in that
// order, as an array; false when there is none.
func (c *docCtx) appendRelated(dst []byte, f *Flow) ([]byte, bool) {
	mark := len(dst)
	dst = append(dst, '[')
	if f.SrcAddr.IsValid() {
		dst = append(appendAddrAgain(dst, f.SrcAddr, c.srcAddr), ',')
	}
	if a := f.DstAddr; a.IsValid() && a != f.SrcAddr {
		dst = append(appendAddrAgain(dst, a, c.dstAddr), ',')
	}
	// The packet addresses, of versions 3 and later, are mostly those already written, or none.
	if a := f.PktSrcAddr; a.IsValid() && a != f.SrcAddr && a != f.DstAddr {
		dst = append(appendAddr(dst, a), ',')
	}
	if a := f.PktDstAddr; a.IsValid() && a != f.SrcAddr && a != f.DstAddr && a != f.PktSrcAddr {
		dst = append(appendAddr(dst, a), ',')
	}
	if len(dst) == mark+1 {
		return dst[:mark], false
	}
	dst[len(dst)-1] = ']' // over the last comma
	return dst, true
}

// appendAddrAgain appends a, which the document has written at dst[at[0]:at[1]] unless at[1] is 0.
func appendAddrAgain(dst []byte, a netip.Addr, at [2]int) []byte {
	if at[1] != 0 {
		return append(dst, dst[at[0]:at[1]]...)
	}
	return appendAddr(dst, a)
}

func appendTCPFlagNames(dst []byte, f *Flow) ([]byte, bool) {
	if !f.Present.Has(FieldTCPFlags) || f.TCPFlags&0xff == 0 {
		return dst, false
	}
	dst = append(dst, '[')
	first := true
	for i, n := range tcpFlagNames {
		if f.TCPFlags&(1<<i) == 0 {
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
	write    writer
	// enriched: every field under the node is an enrichment, so a document without one skips the node whole.
	enriched bool
}

var (
	docTree     = buildTree(docFields)
	docPrograms = programsOf(docTree) // for a Flow without a Format
)

// plan returns the document programs for the format: only the fields its lines can have.
func plan(f *Format) *programs {
	var t []DocField
	for _, df := range docFields {
		if df.Name == "aws.cloudwatch.log_group" && len(f.unknown) > 0 {
			t = append(t, DocField{Name: "aws.vpcflow"}) // where the unknown fields go
		}
		if df.needs == 0 || df.needs&f.set != 0 {
			t = append(t, df)
		}
	}
	tree := buildTree(t)
	if len(f.unknown) > 0 {
		// The unknown fields follow the known members of aws.vpcflow, in the format's order, each a member of its
		// own (never merged with a known member of the same key).
		var vpcflow *docNode
		for _, aws := range tree.children {
			for _, c := range aws.children {
				if aws.key == `,"aws":` && c.key == `,"vpcflow":` {
					vpcflow = c
				}
			}
		}
		for i, key := range f.unknownKey {
			if vpcflow != nil { // there is one while the registry has aws.cloudwatch.log_group
				vpcflow.children = append(vpcflow.children, &docNode{key: "," + key, write: writer{op: opUnknown, index: i}})
			}
		}
	}
	return programsOf(tree)
}

func buildTree(table []DocField) *docNode {
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
			c.enriched = !plain[p]
			walk(c, p)
		}
	}
	walk(root, "")
}

// programs are the document programs of one tree: without the enrichment fields, and with.
type programs struct{ plain, enriched *programSet }

func programsOf(tree *docNode) *programs {
	return &programs{plain: newProgramSet(tree, false), enriched: newProgramSet(tree, true)}
}

// A programSet writes the documents of one tree, with or without the enrichment fields. Which members a document
// has depends on which values its flow has: the set's leaves, the fields other than the constants. A signature
// says which leaves a flow has, and the program of a signature writes exactly those, so the whole skeleton of the
// document (keys, commas, braces, constants) is known when the program is made, and a document is a few runs of
// constant bytes between its values.
//
// The programs of the signatures seen are kept: a batch's flows mostly have the same fields (NODATA and SKIPDATA
// records are the usual exceptions), so most documents are written by the program of the one before.
type programSet struct {
	tree     *docNode
	enriched bool
	leaves   []*docNode // in document order
	index    map[*docNode]int
	probe    *program // every leaf, in order, expected present: run with a signature, it fills it in

	mu    sync.Mutex
	progs map[string]*program // by signature
}

// maxPrograms bounds the programs of a set. Flow logs have few signatures per format; lines of random presence
// could make more, and then the set starts over.
const maxPrograms = 256

func newProgramSet(tree *docNode, enriched bool) *programSet {
	s := &programSet{tree: tree, enriched: enriched, index: map[*docNode]int{}, progs: map[string]*program{}}
	var walk func(n *docNode)
	walk = func(n *docNode) {
		for _, c := range n.children {
			switch {
			case !s.include(c) || c.write.op == opConst:
			case c.write.op == opNone:
				walk(c)
			default:
				s.index[c] = len(s.leaves)
				s.leaves = append(s.leaves, c)
			}
		}
	}
	walk(tree)
	s.probe = &program{set: s}
	for _, l := range s.leaves {
		s.probe.ops = append(s.probe.ops, op{writer: l.write, present: true})
	}
	return s
}

func (s *programSet) include(n *docNode) bool { return s.enriched || !n.enriched }

// program returns the program for the flow, of the signature its probe finds.
func (s *programSet) program(e *Encoder, f *Flow, src *Source) *program {
	sig := e.sig[:0]
	for range s.leaves {
		sig = append(sig, 1)
	}
	e.c.sig = sig
	e.scratch, _ = s.probe.run(e.scratch[:0], &e.c, src)
	e.c.sig = nil
	e.sig = sig
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.progs[string(sig)]
	if p == nil {
		if len(s.progs) >= maxPrograms {
			clear(s.progs)
		}
		p = s.compile(sig)
		s.progs[string(sig)] = p
	}
	return p
}

// compile returns the program of a signature: one byte per leaf, 1 when the flow has it.
func (s *programSet) compile(sig []byte) *program {
	p := &program{set: s}
	// has reports whether the document has n: a constant, a leaf of the signature, or an object with a member.
	var has func(n *docNode) bool
	has = func(n *docNode) bool {
		switch {
		case !s.include(n):
			return false
		case n.write.op == opConst:
			return true
		case n.write.op != opNone:
			return sig[s.index[n]] == 1
		}
		for _, c := range n.children {
			if has(c) {
				return true
			}
		}
		return false
	}
	var run []byte // the constant run of the next op
	var object func(n *docNode)
	object = func(n *docNode) {
		run = append(run, '{')
		first := true
		for _, c := range n.children {
			if !has(c) {
				continue
			}
			key := c.key
			if first {
				key = key[1:]
			}
			first = false
			run = append(run, key...)
			switch c.write.op {
			case opConst:
				run = append(run, c.write.text...)
			case opNone:
				object(c)
			default:
				p.ops = append(p.ops, op{run: string(run), writer: c.write, present: true})
				run = run[:0]
			}
		}
		run = append(run, '}')
	}
	object(s.tree)
	p.end = string(run)
	p.ops = recordOps(tableOps(p.ops))
	for i := range p.ops {
		p.ops[i].setHead()
	}
	// The leaves the document has not are checked first: they write nothing, and a flow of another signature
	// (a NODATA record among flows, or the flow after it) is then mostly told at once rather than at the end. Those
	// of the record (a CloudWatch Logs line has no file, hence no offset) are checked by an opRecord of the program,
	// once per record.
	rec := slices.IndexFunc(p.ops, func(o op) bool { return o.op == opRecord })
	var absent []op
	for i, l := range s.leaves {
		switch {
		case sig[i] == 1:
		case rec >= 0 && recordField(l.write):
			p.ops[rec].none = append(p.ops[rec].none, l.write.src)
		case rec >= 0 && l.write.op == opOffset: // an offset is there when the file is
			p.ops[rec].none = append(p.ops[rec].none, srcFile)
		default:
			absent = append(absent, op{writer: l.write})
		}
	}
	p.ops = append(absent, p.ops...)
	return p
}

// A program writes the documents of one signature: first checks of the values the signature says the flow has not,
// then a list of ops, each appending a run of constant bytes (keys, punctuation, constant values) and then a value
// of the flow, and last a closing run.
type program struct {
	set *programSet
	ops []op
	end string // appended after the ops
}

type op struct {
	run  string    // appended before the value
	head [4]uint64 // run, when it has 32 bytes or fewer, as words, the first byte lowest, zeros after it
	writer
	present bool          // the flow has the value; else the op checks that it has none
	sub     *program      // opRecord, opTable: the ops it stands for, the first without its run
	none    []sourceField // opRecord: the strings of the record the signature has not
	table   []string      // opTable: the text of sub per value of the key; "" where sub is to be run
}

// setHead sets o.head from o.run.
func (o *op) setHead() {
	if len(o.run) > len(o.head)*8 {
		return
	}
	var b [len(o.head) * 8]byte
	copy(b[:], o.run)
	for k := range o.head {
		o.head[k] = binary.LittleEndian.Uint64(b[8*k:])
	}
}

// A key is the one small thing of a flow that a value is made from, for some of its values at least. A run of
// values of the same key is written from a table made with the program: its text for each value of the key, one
// append instead of a value at a time.
type key uint8

const (
	keyNone     key = iota
	keyAction       // Action, when it is ACCEPT or REJECT (event.type reads more of a flow without one)
	keyProtocol     // Protocol, when the flow has one
)

// values returns the number of values of k: those of the table of a run of its values.
func (k key) values() int {
	if k == keyAction {
		return int(ActionReject) + 1
	}
	return 256
}

// set makes f a flow whose value of k is v, and nothing else; false if k does not stand for v.
func (k key) set(f *Flow, v int) bool {
	if k == keyAction {
		f.Action = Action(v)
		return f.Action == ActionAccept || f.Action == ActionReject
	}
	f.Protocol = uint8(v)
	f.Present.add(FieldProtocol)
	return true
}

// of returns the value of k in f; false when f has none.
func (k key) of(f *Flow) (int, bool) {
	if k == keyAction {
		return int(f.Action), true
	}
	return int(f.Protocol), f.Present.Has(FieldProtocol)
}

// tableOps returns ops with each run of two or more consecutive values of the same key as one opTable. Its table
// holds, for each value of the key, the text the ops write for a flow with that value and nothing else, and the
// ops themselves are kept for the values the key does not stand for and those for which they write nothing.
func tableOps(ops []op) []op {
	var out []op
	for i := 0; i < len(ops); {
		k, j := ops[i].key, i+1
		for k != keyNone && j < len(ops) && ops[j].key == k {
			j++
		}
		if j-i < 2 {
			out = append(out, ops[i])
			i++
			continue
		}
		t := op{run: ops[i].run, writer: writer{op: opTable, key: k}, present: true,
			sub: &program{ops: slices.Clone(ops[i:j])}, table: make([]string, k.values())}
		t.sub.ops[0].run = ""
		for v := range t.table {
			var f Flow
			if !k.set(&f, v) {
				continue
			}
			if text, ok := t.sub.run(nil, &docCtx{f: &f}, nil); ok {
				t.table[v] = string(text)
			}
		}
		out = append(out, t)
		i = j
	}
	return out
}

// recordOps returns ops with each run of consecutive fields of the record (recordField) as one opRecord.
func recordOps(ops []op) []op {
	var out []op
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].present && recordField(ops[j].writer) {
			j++
		}
		if j == i {
			out = append(out, ops[i])
			i++
			continue
		}
		sub := &program{ops: slices.Clone(ops[i:j])}
		out = append(out, op{run: sub.ops[0].run, writer: writer{op: opRecord}, present: true, sub: sub})
		sub.ops[0].run = ""
		i = j
	}
	return out
}

// recordField reports whether w writes a string of the Source that names the record, not the line: the same for
// every line of a record, so the text of those fields is kept from one document to the next (recordCache).
func recordField(w writer) bool { return w.op == opSource && slices.Contains(recordFields[:], w.src) }

// recordCache is the text of the last opRecord written, and the strings of the record it was written for: a
// record's lines all have the same, and their text, about 150 bytes of keys and escaped strings (a 56-digit sequence
// number among them), is then one append. It keeps the strings themselves, not copies: a caller passes the same ones
// for every line of a record, and comparing a string with itself is comparing two pointers. (It keeps the memory
// they point into, a record's text, until the next record.)
type recordCache struct {
	o    *op
	rec  record
	text []byte
}

// A record is the strings of a Source that name a record rather than a line.
type record struct{ group, stream, shard, sequence, file string }

var recordFields = [...]sourceField{srcLogGroup, srcLogStream, srcShardID, srcSequenceNumber, srcFile}

func recordOf(src *Source) record {
	return record{src.LogGroup, src.LogStream, src.ShardID, src.SequenceNumber, src.File}
}

// appendRecord appends the text of o, an opRecord, for src; false when src has not all its strings, or has one of
// those the op says it has not.
func (r *recordCache) appendRecord(dst []byte, o *op, src *Source) ([]byte, bool) {
	if src == nil {
		return dst, false
	}
	if r.o != o || r.rec.group != src.LogGroup || r.rec.stream != src.LogStream || r.rec.shard != src.ShardID ||
		r.rec.sequence != src.SequenceNumber || r.rec.file != src.File {
		r.o, r.text = nil, r.text[:0]
		for _, s := range o.none {
			if sourceString(src, s) != "" {
				return dst, false
			}
		}
		for _, s := range o.sub.ops {
			v := sourceString(src, s.src)
			if v == "" {
				return dst, false
			}
			r.text = jsonw.AppendString(append(r.text, s.run...), v)
		}
		r.o, r.rec = o, recordOf(src)
	}
	return append(dst, r.text...), true
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
	progs := docPrograms
	if f.Format != nil {
		progs = f.Format.docPlan()
	}
	set := progs.plain
	if e.c.x != nil {
		set = progs.enriched
	}
	if e.c.f != f { // a caller mostly passes one Flow again and again: no pointer store, no write barrier
		e.c.f = f
	}
	return e.append(dst, set, f, src)
}

// append appends the document with the program of the document before, unless the flow has other fields: then
// with the program of its own.
func (e *Encoder) append(dst []byte, set *programSet, f *Flow, src *Source) []byte {
	// The last two programs: a NODATA record among flows takes the other, and the flow after it takes the first back.
	for range 2 {
		if p := e.last; p != nil && p.set == set {
			out, ok := p.run(dst, &e.c, src)
			if ok {
				return out
			}
			dst = out[:len(dst)]
		}
		e.last, e.prev = e.prev, e.last
	}
	p := set.program(e, f, src)
	e.last, e.prev = p, e.last
	out, ok := p.run(dst, &e.c, src)
	if !ok {
		panic("vpcflow: a flow has other fields than its probe found") // the writers and the probe are one code
	}
	return out
}

// run appends the document of c.f and src to dst, and reports whether the flow has the values of the program's
// signature, no more and no less (if not, what it appended is to be dropped). With c.sig, a byte per op, it runs
// the probe: it writes every value the flow has, and sets to 0 the byte of each it has not.
//
// src is read here only, never kept nor handed to a function value, so a caller's Source on its stack stays there.
func (p *program) run(dst []byte, c *docCtx, src *Source) ([]byte, bool) {
	f := c.f
	c.start, c.srcAddr, c.dstAddr = [2]int{}, [2]int{}, [2]int{}
	for i := range p.ops {
		o := &p.ops[i]
		// The run: four word stores when it is short and dst has room, rather than a call to copy it.
		if n := len(dst); len(o.run) <= len(o.head)*8 && cap(dst)-n >= len(o.head)*8 {
			b := dst[n : n+len(o.head)*8]
			binary.LittleEndian.PutUint64(b, o.head[0])
			binary.LittleEndian.PutUint64(b[8:], o.head[1])
			binary.LittleEndian.PutUint64(b[16:], o.head[2])
			binary.LittleEndian.PutUint64(b[24:], o.head[3])
			dst = dst[:n+len(o.run)]
		} else {
			dst = append(dst, o.run...)
		}
		ok := true
		switch o.op {
		case opUnknown:
			var s string
			if o.index < len(f.Unknown) {
				s = f.Unknown[o.index]
			}
			if ok = s != ""; ok {
				dst = jsonw.AppendString(dst, s)
			}
		case opTimestamp:
			switch {
			case f.Present.Has(FieldStart):
				at := len(dst)
				dst = c.appendDate(dst, f.Start*1000)
				c.start = [2]int{at, len(dst)}
			case src == nil || src.Timestamp < 0 || src.Timestamp > maxTime*1000:
				ok = false
			default:
				dst = c.appendDate(dst, src.Timestamp)
			}
		case opDate:
			switch {
			case !f.Present.Has(o.field):
				ok = false
			case o.field == FieldEnd:
				dst = c.appendDate(dst, f.End*1000)
			case c.start[1] != 0: // @timestamp, written before: the same date
				dst = append(dst, dst[c.start[0]:c.start[1]]...)
			default:
				dst = c.appendDate(dst, f.Start*1000)
			}
		case opEventType:
			switch {
			case f.Action == ActionAccept:
				dst = append(dst, `["connection","allowed"]`...)
			case f.Action == ActionReject:
				dst = append(dst, `["connection","denied"]`...)
			case f.HasAddresses() && !f.NoTraffic():
				dst = append(dst, `["connection"]`...)
			default:
				ok = false
			}
		case opAction:
			var w string
			if f.Action <= ActionReject {
				w = o.words[f.Action]
			}
			dst, ok = append(dst, w...), w != ""
		case opDirection:
			var w string
			if f.FlowDirection <= DirectionEgress {
				w = o.words[f.FlowDirection]
			}
			dst, ok = append(dst, w...), w != ""
		case opLogStatus:
			if ok = f.Present.Has(FieldLogStatus); ok {
				dst = append(dst, o.words[f.LogStatus]...)
			}
		case opIANANumber:
			if ok = f.Present.Has(FieldProtocol); ok {
				dst = append(dst, protocolNumbers[f.Protocol]...)
			}
		case opTransport:
			name := protocolNamesJSON[f.Protocol]
			if ok = f.Present.Has(FieldProtocol) && name != ""; ok {
				dst = append(dst, name...)
			}
		case opNetworkType:
			a := f.SrcAddr
			if !a.IsValid() {
				a = f.DstAddr
			}
			switch {
			case !a.IsValid():
				ok = false
			case a.Is4() || a.Is4In6():
				dst = append(dst, `"ipv4"`...)
			default:
				dst = append(dst, `"ipv6"`...)
			}
		case opRelated:
			dst, ok = c.appendRelated(dst, f)
		case opTCPFlags:
			if ok = f.Present.Has(FieldTCPFlags); ok {
				dst = jsonw.AppendUint(dst, uint64(f.TCPFlags))
			}
		case opTCPFlagNames:
			dst, ok = appendTCPFlagNames(dst, f)
		case opTrafficPath:
			if ok = f.Present.Has(FieldTrafficPath); ok {
				dst = jsonw.AppendUint(dst, uint64(f.TrafficPath))
			}
		case opString:
			s := *fieldAt[string](f, o.off)
			if ok = s != ""; ok {
				dst = jsonw.AppendString(dst, s)
			}
		case opAddr:
			a := *fieldAt[netip.Addr](f, o.off)
			if ok = a.IsValid(); ok {
				at := len(dst)
				dst = appendAddr(dst, a)
				switch o.field {
				case FieldSrcAddr:
					c.srcAddr = [2]int{at, len(dst)}
				case FieldDstAddr:
					c.dstAddr = [2]int{at, len(dst)}
				}
			}
		case opCount:
			if ok = f.Present.Has(o.field); ok {
				dst = jsonw.AppendUint(dst, *fieldAt[uint64](f, o.off))
			}
		case opPort:
			if ok = f.Present.Has(o.field); ok {
				dst = jsonw.AppendUint(dst, uint64(*fieldAt[uint16](f, o.off)))
			}
		case opSource:
			s := sourceString(src, o.src)
			if ok = s != ""; ok {
				dst = jsonw.AppendString(dst, s)
			}
		case opRecord:
			dst, ok = c.record.appendRecord(dst, o, src)
		case opTable:
			if v, has := o.key.of(f); has && v < len(o.table) && o.table[v] != "" {
				dst = append(dst, o.table[v]...)
			} else {
				dst, ok = o.sub.run(dst, c, src) // not while probing: the probe has no opTable
			}
		case opOffset:
			if ok = src != nil && src.File != ""; ok {
				dst = strconv.AppendInt(dst, src.Offset, 10)
			}
		case opFunc:
			dst, ok = o.fn(dst, c)
		}
		if ok != o.present {
			if c.sig == nil {
				return dst, false
			}
			c.sig[i] = 0
		}
	}
	return append(dst, p.end...), true
}

// sourceString returns the string of src that s names; "" without a Source.
func sourceString(src *Source, s sourceField) string {
	if src == nil {
		return ""
	}
	switch s {
	case srcLogGroup:
		return src.LogGroup
	case srcLogStream:
		return src.LogStream
	case srcEventID:
		return src.EventID
	case srcShardID:
		return src.ShardID
	case srcSequenceNumber:
		return src.SequenceNumber
	}
	return src.File
}

// appendDate appends ms (milliseconds since the epoch) as a quoted RFC 3339 UTC time, clamped to the years 1970 to
// 9999 that flow logs can carry.
func appendDate(dst []byte, ms int64) []byte {
	return jsonw.AppendDate(dst, max(0, min(ms, maxTime*1000+999)))
}

// protocolNumbers and protocolNamesJSON are the JSON strings of each protocol's number and keyword (none for the
// protocols protocolNames has no keyword for).
var protocolNumbers, protocolNamesJSON = func() (numbers, names [256]string) {
	for p, name := range protocolNames {
		numbers[p] = `"` + strconv.Itoa(p) + `"`
		if name != "" {
			names[p] = string(jsonw.AppendString(nil, name))
		}
	}
	return numbers, names
}()

// protocolNames are the IANA keywords of the protocols flow logs commonly carry (lower case, as ECS writes them).
var protocolNames = [256]string{
	0: "hopopt", 1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 8: "egp", 17: "udp", 41: "ipv6", 43: "ipv6-route",
	44: "ipv6-frag", 47: "gre", 50: "esp", 51: "ah", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 89: "ospf",
	103: "pim", 112: "vrrp", 115: "l2tp", 132: "sctp", 136: "udplite",
}
