package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// value builds what the scanner reads at its position as encoding/json's generic form (numbers as json.Number), so
// that the two can be compared.
func value(sc *Scanner, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, errors.New("too deep for the comparison")
	}
	b := sc.Bytes()
	if sc.Pos() >= len(b) {
		return nil, sc.Skip() // says what is wrong
	}
	switch b[sc.Pos()] {
	case '{':
		m := map[string]any{}
		err := sc.Object(func(k Span) error {
			key := string(sc.Bytes()[k.Off:k.End])
			v, err := value(sc, depth+1)
			m[key] = v
			return err
		})
		return m, err
	case '[':
		a := []any{}
		err := sc.Array(func() error {
			v, err := value(sc, depth+1)
			a = append(a, v)
			return err
		})
		return a, err
	case '"':
		sp, err := sc.ReadString()
		return string(sc.Bytes()[sp.Off:sp.End]), err
	}
	if sc.AtNumber() {
		sp, err := sc.ReadNumber()
		return json.Number(sc.Bytes()[sp.Off:sp.End]), err
	}
	if sc.Null() {
		return nil, nil
	}
	start := sc.Pos()
	err := sc.Skip()
	return string(b[start:sc.Pos()]) == "true", err
}

// read scans the whole of in (shared, so a write to it would show) and returns what value built.
func read(tb testing.TB, in string) (any, error) {
	tb.Helper()
	buf := []byte(in)
	var sc Scanner
	sc.Reset(buf, true)
	sc.SkipSpace()
	v, err := value(&sc, 0)
	if err == nil && !sc.AtEnd() {
		err = fmt.Errorf("data after the value at byte %d", sc.Pos())
	}
	if string(buf) != in {
		tb.Fatalf("the scanner wrote to a shared buffer: %q became %q", in, buf)
	}
	return v, err
}

func TestRead(t *testing.T) {
	tests := []struct {
		name, in string
		want     any
	}{
		{"empty object", ` { } `, map[string]any{}},
		{"empty array", `[ ]`, []any{}},
		{"literals", `[true,false,null]`, []any{true, false, nil}},
		{"numbers", `[0,-1,1.5,2e3,-0.5E-2,12345678901234567890]`,
			[]any{json.Number("0"), json.Number("-1"), json.Number("1.5"), json.Number("2e3"), json.Number("-0.5E-2"), json.Number("12345678901234567890")}},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{"unicode", `"caf\u00e9 \u2603 \ud834\udd1e"`, "café ☃ 𝄞"},
		{"lone surrogates", `"\ud800 \udc00 \ud800\u0041"`, "\ufffd \ufffd \ufffdA"},
		{"escaped key", `{"k\u0065y":1}`, map[string]any{"key": json.Number("1")}},
		{"nested", `{"a":[{"b":[]},"c"],"d":{"e":null}}`,
			map[string]any{"a": []any{map[string]any{"b": []any{}}, "c"}, "d": map[string]any{"e": nil}}},
		{"white space", "\t[\r\n1 ,\n2 ]\n", []any{json.Number("1"), json.Number("2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, in, detail string
		offset           int
	}{
		{"nothing", ``, "expected a value", 0},
		{"bad literal", `nul`, "expected a value", 0},
		{"no colon", `{"a" 1}`, "expected ':' after an object key", 5},
		{"key not a string", `{a:1}`, "expected a string", 1},
		{"object separator", `{"a":1;}`, "expected ',' or '}' in an object", 6},
		{"array separator", `[1 2]`, "expected ',' or ']' in an array", 3},
		{"unterminated object", `{"a":1`, "unterminated object", 6},
		{"unterminated array", `[1,`, "expected a value", 3},
		{"unterminated string", `"abc`, "unterminated string", 4},
		{"unterminated after escape", `"a\n`, "unterminated string", 4},
		{"bad escape", `"a\x"`, "invalid escape in a string", 3},
		{"bad unicode", `"\u12G4"`, "invalid \\u escape", 2},
		{"short unicode", `"\u12"`, "invalid \\u escape", 2},
		{"leading zero", `012`, "invalid number", 0},
		{"bare minus", `-`, "invalid number", 0},
		{"empty fraction", `1.e5`, "invalid number", 0},
		{"empty exponent", `1e+`, "invalid number", 0},
		{"deep", strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2), "nested too deeply", MaxDepth + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sc Scanner
			sc.Reset([]byte(tt.in), false)
			err := sc.Skip()
			var se *SyntaxError
			if !errors.As(err, &se) || se.Detail != tt.detail || se.Offset != tt.offset {
				t.Fatalf("Skip(%q) = %v, want %q at byte %d", tt.in, err, tt.detail, tt.offset)
			}
			if want := fmt.Sprintf("jsonscan: %s at byte %d", tt.detail, tt.offset); err.Error() != want {
				t.Errorf("error text %q, want %q", err, want)
			}
		})
	}
}

func TestInt64(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-42", -42, true},
		{"9223372036854775799", 9223372036854775799, true},
		{"9223372036854775807", 0, false}, // fits, but the check is conservative by one digit's worth
		{"99999999999999999999", 0, false},
		{"1.5e12", 1_500_000_000_000, true},
		{"-2.9", -2, true},
		{"1e19", 0, false},
	}
	for _, tt := range tests {
		var sc Scanner
		sc.Reset([]byte(tt.in), false)
		n, err := sc.ReadNumber()
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if got, ok := sc.Int64(n); got != tt.want || ok != tt.ok {
			t.Errorf("Int64(%s) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestShared: a shared buffer is copied before the first unescape; spans found before hold in the copy; an owned
// buffer is unescaped where it is.
func TestShared(t *testing.T) {
	in := `["plain","esc\naped"]`
	for _, shared := range []bool{true, false} {
		buf := []byte(in)
		var sc Scanner
		sc.Reset(buf, shared)
		var spans []Span
		if err := sc.Array(func() error {
			sp, err := sc.ReadString()
			spans = append(spans, sp)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		s := string(sc.Bytes())
		if got := []string{spans[0].In(s), spans[1].In(s)}; got[0] != "plain" || got[1] != "esc\naped" {
			t.Errorf("shared %v: %q", shared, got)
		}
		if wrote := string(buf) != in; wrote == shared || (&sc.Bytes()[0] == &buf[0]) == shared {
			t.Errorf("shared %v: buffer written %v, kept %v", shared, wrote, &sc.Bytes()[0] == &buf[0])
		}
	}
}

func TestPlainString(t *testing.T) {
	for _, tt := range []struct {
		in   string
		text string
		next int
	}{
		{`abc"rest`, "abc", 4},
		{`"`, "", 1},
		{`a\"b"`, "", -1}, // an escape: for ReadString
		{`abc`, "", -1},   // unterminated
	} {
		var sc Scanner
		sc.Reset([]byte(tt.in), true)
		sp, next := sc.PlainString(0)
		if next != tt.next || next >= 0 && sp.In(tt.in) != tt.text || sc.Pos() != 0 {
			t.Errorf("PlainString(%q) = %q, %d (pos %d); want %q, %d", tt.in, sp.In(tt.in), next, sc.Pos(), tt.text, tt.next)
		}
	}
}

// FuzzScan holds the scanner to encoding/json: whatever is valid JSON it reads, to the same values; what it
// accepts beyond that has a raw control character (which it does not police); it never writes a shared buffer,
// and every error is a SyntaxError inside the input.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"m"}]}`,
		`[true,false,null,-0.5e+3,"\u00e9\ud834\udd1e\ud800",{"a":{}}]`, `"\"\\\/\b\f\n\r\t"`, `{"a" 1}`, `[1,]`,
		`01`, `1.`, `"\u12"`, "\"a\x01b\"", `"` + "\xff" + `"`, strings.Repeat("[", 600),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := read(t, string(data))
		var se *SyntaxError
		if err != nil && errors.As(err, &se) && (se.Offset < 0 || se.Offset > len(data)) {
			t.Fatalf("error offset %d outside the input of %d bytes", se.Offset, len(data))
		}
		valid := json.Valid(data)
		tooDeep := err != nil && (se == nil || se.Detail == "nested too deeply")
		switch {
		case valid && err != nil && !tooDeep:
			t.Fatalf("encoding/json accepts %q, the scanner says %v", data, err)
		case !valid && err == nil && !bytes.ContainsFunc(data, func(r rune) bool { return r < 0x20 }):
			t.Fatalf("the scanner accepts %q, which encoding/json refuses", data)
		case valid && err == nil && utf8.Valid(data):
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%q: (-encoding/json +scanner):\n%s", data, diff)
			}
		}
	})
}

// Example reads the one field wanted and skips the rest; the span becomes a string sharing the buffer.
func Example() {
	buf := []byte(`{"skip":[1,{"x":null}],"name":"caf\u00e9","more":true}`)
	var sc Scanner
	sc.Reset(buf, false)
	var name Span
	err := sc.Object(func(key Span) error {
		if sc.Equal(key, "name") {
			var err error
			name, err = sc.ReadString()
			return err
		}
		return sc.Skip()
	})
	fmt.Println(name.In(string(sc.Bytes())), err)
	// Output: café <nil>
}
