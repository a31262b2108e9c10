package aggregate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/kinflow/kinflow/internal/jsonw"
)

// The documents' fields, their types and meanings are the registry's connection-set family (internal/schema,
// conns.go), which also makes the index templates and the README's table; internal/testing/sinktest checks what
// this file writes against it. Dates are RFC 3339 strings in UTC, to the second. peers_sketch is a base64 HyperLogLog
// (axiomhq/hyperloglog v2 encoding, dense, precision 14, MetroHash64 of the 16-byte IPv6 form).
//
// Objects are written nested ({"flows":{"sent":1}}), which Elasticsearch and OpenSearch map to the dotted names.

// ErrDecode is wrapped by the errors of DecodeBlock and DecodeFinal.
var ErrDecode = errors.New("aggregate: decoding connection set")

// AppendJSON appends the final's document source to dst.
func (f *Final) AppendJSON(dst []byte) ([]byte, error) {
	dst, err := f.appendFields(dst)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"revision":`...)
	dst = strconv.AppendInt(dst, f.Revision, 10)
	return append(dst, '}'), nil
}

// appendFields writes the shared fields: an opening brace and no closing one. On error dst is returned as given.
func (c *ConnSet) appendFields(dst []byte) ([]byte, error) {
	n := len(dst)
	dst = append(dst, `{"@timestamp":`...)
	dst = jsonw.AppendDateSeconds(dst, c.WindowStart)
	dst = append(dst, `,"window":{"start":`...)
	dst = jsonw.AppendDateSeconds(dst, c.WindowStart)
	dst = append(dst, `,"end":`...)
	dst = jsonw.AppendDateSeconds(dst, c.WindowEnd)
	dst = append(dst, `},`...)
	dst, err := c.appendMembers(dst, true)
	if err != nil {
		return dst[:n], err
	}
	return dst, nil
}

// AppendSetJSON appends the set as one JSON object with the document's fields from ip to last_seen, without the
// window and the sketch: the webhook's rich body carries each set this way.
func (c *ConnSet) AppendSetJSON(dst []byte) []byte {
	dst = append(dst, '{')
	dst, _ = c.appendMembers(dst, false) // fails only when encoding a sketch
	return append(dst, '}')
}

// appendMembers writes the fields from ip to last_seen, without braces; withSketch adds peers_sketch to an estimated
// set (the documents need it to merge; the webhook does not).
func (c *ConnSet) appendMembers(dst []byte, withSketch bool) ([]byte, error) {
	dst = append(dst, `"ip":"`...)
	dst = c.IP.AppendTo(dst)
	dst = append(dst, '"')
	if !c.PeersEstimated {
		dst = append(dst, `,"peers":[`...)
		for i, p := range c.Peers {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = p.AppendTo(dst)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"peers_count":`...)
	dst = strconv.AppendUint(dst, c.PeersCount, 10)
	dst = append(dst, `,"peers_estimated":`...)
	dst = strconv.AppendBool(dst, c.PeersEstimated)
	if withSketch && c.PeersEstimated {
		if c.sketch == nil {
			return dst, fmt.Errorf("aggregate: encoding %v: estimated peer set without a sketch", c.IP)
		}
		raw, err := c.sketch.MarshalBinary()
		if err != nil {
			return dst, fmt.Errorf("aggregate: encoding the sketch of %v: %w", c.IP, err)
		}
		dst = append(dst, `,"peers_sketch":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, raw)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"dst_ports":[`...)
	for i, p := range c.DstPorts {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, uint64(p), 10)
	}
	dst = append(dst, `],"dst_ports_count":`...)
	dst = strconv.AppendInt(dst, int64(len(c.DstPorts)), 10)
	dst = appendPair(dst, `,"flows":{"sent":`, c.FlowsSent, `,"received":`, c.FlowsReceived)
	dst = appendPair(dst, `,"rejected":`, c.FlowsRejected, `,"late":`, c.FlowsLate)
	dst = appendPair(dst, `},"bytes":{"sent":`, c.BytesSent, `,"received":`, c.BytesReceived)
	dst = appendPair(dst, `},"packets":{"sent":`, c.PacketsSent, `,"received":`, c.PacketsReceived)
	dst = append(dst, `},"first_seen":`...)
	dst = jsonw.AppendDateSeconds(dst, c.FirstSeen)
	dst = append(dst, `,"last_seen":`...)
	dst = jsonw.AppendDateSeconds(dst, c.LastSeen)
	return dst, nil
}

func appendPair(dst []byte, k1 string, v1 uint64, k2 string, v2 uint64) []byte {
	dst = append(dst, k1...)
	dst = strconv.AppendUint(dst, v1, 10)
	dst = append(dst, k2...)
	return strconv.AppendUint(dst, v2, 10)
}

// doc is the document as read back from the index. The decoder is off the hot path (the finalizer reads each
// partial once), so it uses encoding/json.
type doc struct {
	Timestamp      *string `json:"@timestamp"`
	Window         *struct{ Start, End *string }
	IP             *string  `json:"ip"`
	Peers          []string `json:"peers"`
	PeersCount     *uint64  `json:"peers_count"`
	PeersEstimated bool     `json:"peers_estimated"`
	PeersSketch    []byte   `json:"peers_sketch"`
	DstPorts       []uint16 `json:"dst_ports"`
	DstPortsCount  *uint64  `json:"dst_ports_count"`
	Flows          struct{ Sent, Received, Rejected, Late uint64 }
	Bytes          struct{ Sent, Received uint64 }
	Packets        struct{ Sent, Received uint64 }
	FirstSeen      *string `json:"first_seen"`
	LastSeen       *string `json:"last_seen"`
	Revision       *int64  `json:"revision"`
	// Partial: per-IP partials of versions before blocks (DecodePerIPPartial).
	Partial *struct {
		ShardID       *string `json:"shard_id"`
		FirstSequence *string `json:"first_sequence"`
		LastSequence  string  `json:"last_sequence"`
	} `json:"partial"`
}

// DecodeFinal reads a final back from its document source.
func DecodeFinal(src []byte) (Final, error) {
	d, c, err := decode(src)
	if err != nil {
		return Final{}, err
	}
	if d.Revision == nil {
		return Final{}, fmt.Errorf("%w: revision missing", ErrDecode)
	}
	return Final{Revision: *d.Revision, ConnSet: c}, nil
}

func decode(src []byte) (*doc, ConnSet, error) {
	var d doc
	if err := json.Unmarshal(src, &d); err != nil {
		return nil, ConnSet{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	c := ConnSet{
		FlowsSent: d.Flows.Sent, FlowsReceived: d.Flows.Received, FlowsRejected: d.Flows.Rejected, FlowsLate: d.Flows.Late,
		BytesSent: d.Bytes.Sent, BytesReceived: d.Bytes.Received,
		PacketsSent: d.Packets.Sent, PacketsReceived: d.Packets.Received,
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c.WindowStart, c.WindowEnd = window(d.Timestamp, d.Window, bad)
	c.FirstSeen, c.LastSeen = date("first_seen", d.FirstSeen, bad), date("last_seen", d.LastSeen, bad)
	c.IP = parseAddr("ip", d.IP, bad)

	if d.PeersCount == nil {
		bad("peers_count missing")
	}
	c.PeersEstimated = d.PeersEstimated
	if c.PeersEstimated {
		if d.Peers != nil {
			bad("peers present in an estimated set")
		}
		sk := new(hyperloglog.Sketch)
		if err := sk.UnmarshalBinary(d.PeersSketch); err != nil {
			bad("peers_sketch: %w", err)
		} else if c.sketch = newSketch(); c.sketch.Merge(sk) != nil {
			bad("peers_sketch: want precision %d", sketchPrecision)
		} else {
			// Merging into a fresh dense sketch makes any valid encoding (sparse too) canonical. The count is
			// recomputed, not checked: it is derived, and a newer library may estimate differently.
			c.PeersCount = c.sketch.Estimate()
		}
	} else {
		if d.PeersSketch != nil {
			bad("peers_sketch present in an exact set")
		}
		for _, s := range d.Peers {
			c.Peers = append(c.Peers, parseAddr("peers", &s, bad))
		}
		slices.SortFunc(c.Peers, netip.Addr.Compare)
		c.Peers = slices.Compact(c.Peers)
		c.PeersCount = uint64(len(c.Peers))
		if d.PeersCount != nil && *d.PeersCount != c.PeersCount {
			bad("peers_count %d, but %d distinct peers", *d.PeersCount, c.PeersCount)
		}
	}
	if len(d.DstPorts) > 0 {
		c.DstPorts = slices.Compact(slices.Sorted(slices.Values(d.DstPorts)))
	}
	if d.DstPortsCount == nil || *d.DstPortsCount != uint64(len(c.DstPorts)) {
		bad("dst_ports_count %v, but %d distinct ports", ptrString(d.DstPortsCount), len(c.DstPorts))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, ConnSet{}, fmt.Errorf("%w: %w", ErrDecode, err)
	}
	return &d, c, nil
}

// window reads a document's window and checks that @timestamp is its start; each problem goes to bad.
func window(timestamp *string, w *struct{ Start, End *string }, bad func(string, ...any)) (start, end int64) {
	if w == nil {
		bad("window missing")
	} else {
		start, end = date("window.start", w.Start, bad), date("window.end", w.End, bad)
		if n := end - start; n <= 0 || n > int64(maxWindow/time.Second) {
			bad("window [%d, %d): want an end 1s to 24h after the start", start, end)
		}
	}
	if ts := date("@timestamp", timestamp, bad); ts != start {
		bad("@timestamp %d is not window.start %d", ts, start)
	}
	return start, end
}

// date reads an RFC 3339 date as Unix seconds; a missing or bad one goes to bad.
func date(name string, s *string, bad func(string, ...any)) int64 {
	if s == nil {
		bad("%s missing", name)
		return 0
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		bad("%s: %w", name, err)
	}
	return t.Unix()
}

func parseAddr(name string, s *string, bad func(string, ...any)) netip.Addr {
	if s == nil {
		bad("%s missing", name)
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(*s)
	if err != nil {
		bad("%s: %w", name, err)
		return netip.Addr{}
	}
	if a.Zone() != "" {
		bad("%s %q: zoned addresses are not flow-log addresses", name, *s)
	}
	return a.Unmap()
}

func ptrString(p *uint64) string {
	if p == nil {
		return "missing"
	}
	return strconv.FormatUint(*p, 10)
}
