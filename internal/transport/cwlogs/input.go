package cwlogs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// A Payload is one record found in debugging input by SplitInput.
type Payload struct {
	Data           []byte
	Origin         string // where in the input it was: "input", "line 3", "Records[2]"
	Compressed     bool   // false when Data is an envelope that is already decompressed JSON
	SequenceNumber string // when the input says (a Kinesis record or Lambda event)
	ShardID        string // when the input says (a Lambda event's eventID)
}

// SplitInput finds the records in what a user pastes when debugging:
//   - raw gzip (one record's data, as read from Kinesis);
//   - base64 text, one record per whitespace-separated token (`aws kinesis get-records --query 'Records[].Data'`);
//   - a Lambda Kinesis event ({"Records":[{"kinesis":{"data":"<base64>"}}]}), the output of `aws kinesis
//     get-records` ({"Records":[{"Data":"<base64>"}]}), or a Lambda CloudWatch Logs event ({"awslogs":{"data":...}});
//   - an envelope that is already decompressed ({"messageType":...}), one or more, and arrays of any of these.
//
// limit bounds the input it reads and each decoded record.
func SplitInput(data []byte, limit int) ([]Payload, error) {
	if len(data) > limit {
		return nil, newError("input", ErrTooLarge, -1, fmt.Sprintf("%d bytes, more than %d", len(data), limit))
	}
	if IsGzip(data) {
		return []Payload{{Data: data, Origin: "input", Compressed: true}}, nil
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, newError("input", ErrUnrecognisedInput, -1, "empty input")
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		return splitJSON(trimmed)
	}
	var out []Payload
	for i, tok := range bytes.Fields(trimmed) {
		raw, err := decodeBase64(tok)
		if err != nil {
			return nil, newError("input", ErrUnrecognisedInput, -1,
				fmt.Sprintf("token %d is neither gzip, JSON nor base64: %v", i+1, err))
		}
		p, err := classify(raw, fmt.Sprintf("token %d", i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func splitJSON(data []byte) ([]Payload, error) {
	var out []Payload
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for n := 1; ; n++ {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, newError("input", ErrUnrecognisedInput, -1, fmt.Sprintf("JSON value %d: %v", n, err))
		}
		origin := ""
		if n > 1 {
			origin = fmt.Sprintf("value %d ", n)
		}
		ps, err := walkJSON(v, strings.TrimSpace(origin+"input"))
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func walkJSON(v any, origin string) ([]Payload, error) {
	switch v := v.(type) {
	case []any:
		var out []Payload
		for i, e := range v {
			ps, err := walkJSON(e, fmt.Sprintf("%s[%d]", origin, i))
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	case string:
		raw, err := decodeBase64([]byte(v))
		if err != nil {
			return nil, newError("input", ErrUnrecognisedInput, -1, fmt.Sprintf("%s: a string that is not base64: %v", origin, err))
		}
		p, err := classify(raw, origin)
		return []Payload{p}, err
	case map[string]any:
		if _, ok := v["messageType"]; ok {
			b, err := json.Marshal(v)
			return []Payload{{Data: b, Origin: origin}}, err
		}
		if recs, ok := v["Records"]; ok {
			return walkJSON(recs, origin+".Records")
		}
		if aw, ok := v["awslogs"].(map[string]any); ok {
			return dataField(aw, origin+".awslogs", "", "")
		}
		if k, ok := v["kinesis"].(map[string]any); ok {
			shard, _, _ := strings.Cut(str(v["eventID"]), ":")
			return dataField(k, origin+".kinesis", str(k["sequenceNumber"]), shard)
		}
		return dataField(v, origin, str(v["SequenceNumber"]), "")
	}
	return nil, newError("input", ErrUnrecognisedInput, -1, fmt.Sprintf("%s: expected a record, an envelope or a list of them", origin))
}

func dataField(m map[string]any, origin, seq, shard string) ([]Payload, error) {
	for _, k := range []string{"data", "Data"} {
		if s, ok := m[k].(string); ok {
			raw, err := decodeBase64([]byte(s))
			if err != nil {
				return nil, newError("input", ErrUnrecognisedInput, -1, fmt.Sprintf("%s.%s is not base64: %v", origin, k, err))
			}
			p, err := classify(raw, origin)
			p.SequenceNumber, p.ShardID = seq, shard
			return []Payload{p}, err
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return nil, newError("input", ErrUnrecognisedInput, -1,
		fmt.Sprintf("%s: an object with neither messageType, Records, awslogs, kinesis nor data (keys %q)", origin, keys))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// classify labels decoded record data: an uncompressed envelope, or else a record for Decode, which explains
// what is wrong with it when it is not gzip (one bad record does not hide the others).
func classify(raw []byte, origin string) (Payload, error) {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		return Payload{Data: raw, Origin: origin}, nil
	}
	return Payload{Data: raw, Origin: origin, Compressed: true}, nil
}

func decodeBase64(tok []byte) ([]byte, error) {
	tok = bytes.TrimSpace(tok)
	var errs []error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		out := make([]byte, enc.DecodedLen(len(tok)))
		n, err := enc.Decode(out, tok)
		if err == nil {
			return out[:n], nil
		}
		errs = append(errs, err)
	}
	return nil, errs[0]
}

// DecodePayload decodes one payload found by SplitInput.
func (d *Decoder) DecodePayload(env *Envelope, p Payload) error {
	if p.Compressed {
		return d.Decode(env, p.Data)
	}
	return d.DecodeJSON(env, p.Data)
}
