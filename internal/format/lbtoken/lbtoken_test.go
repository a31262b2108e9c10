package lbtoken

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestScanner(t *testing.T) {
	tests := []struct {
		line string
		want []string // values as Text returns them; "<nil>" for absent
	}{
		{`a b  c`, []string{"a", "b", "c"}},
		{`"GET / HTTP/1.1" "-" -`, []string{"GET / HTTP/1.1", "<nil>", "<nil>"}},
		{`"say \"hi\" \\ " x`, []string{`say "hi" \ `, "x"}},
		{`"h2","http/1.1" end`, []string{`"h2","http/1.1"`, "end"}},
		{`"- - - " "-"`, []string{"- - - ", "<nil>"}},
		{`a"b c"d e`, []string{`a"b c"d`, "e"}},
		{"a\tb\r", []string{"a", "b"}},
		{`""`, []string{""}},
	}
	for _, tt := range tests {
		var s Scanner
		buf := []byte(tt.line)
		s.Reset(buf)
		var got []string
		for {
			tok, ok := s.Next()
			if !ok {
				break
			}
			v := Text(tok)
			if v == nil {
				got = append(got, "<nil>")
			} else {
				got = append(got, string(v))
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || s.BadQuote() >= 0 {
			t.Errorf("%q: got %q (bad quote %d), want %q", tt.line, got, s.BadQuote(), tt.want)
		}
	}
	var s Scanner
	s.Reset([]byte(`a "b c`))
	s.Next()
	if _, ok := s.Next(); ok || s.BadQuote() != 2 {
		t.Errorf("open quote: ok %v at %d", ok, s.BadQuote())
	}
}

// TestParseTime holds ParseTime to the time package.
func TestParseTime(t *testing.T) {
	for _, s := range []string{"2018-07-02T22:23:00.186641Z", "2018-12-20T02:59:40", "1970-01-01T00:00:00Z",
		"2000-02-29T23:59:59.999999999Z", "2261-12-31T23:59:59Z", "2024-12-31T00:00:00.5Z"} {
		want, err := time.Parse("2006-01-02T15:04:05.999999999Z07:00", strings.TrimSuffix(s, "Z")+"Z")
		got, ok := ParseTime([]byte(s))
		if err != nil || !ok || got != want.UnixNano() {
			t.Errorf("%s: %d %v, want %d %v", s, got, ok, want.UnixNano(), err)
		}
	}
	for _, s := range []string{"", "2018-07-02", "2018-07-02T22:23:00.Z", "2018-07-02T22:23:00+01:00", "2019-02-29T00:00:00Z",
		"2018-04-31T00:00:00Z", "2018-07-02T24:00:00Z", "1969-12-31T23:59:59Z", "2262-01-01T00:00:00Z", "2018-07-02 22:23:00",
		"2018-07-02T22:23:00ZZ", "+018-07-02T22:23:00Z"} {
		if got, ok := ParseTime([]byte(s)); ok {
			t.Errorf("%q: %d, want an error", s, got)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for s, want := range map[string]Duration{"0": 0, "0.000": 0, "0.000073": 73000, "1.5": 1.5e9, "-1": Unanswered,
		"0.1234567891": 123456789} {
		if got, ok := ParseSeconds([]byte(s)); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", ".", "1.", ".5", "-2", "-1.0", "1e3", "99999999999"} {
		if got, ok := ParseSeconds([]byte(s)); ok {
			t.Errorf("%q: %d, want an error", s, got)
		}
	}
}

func TestParseRequest(t *testing.T) {
	var r Request
	for line, want := range map[string]string{
		"GET https://www.example.com:443/a/b?c=d#f HTTP/1.1": "GET|https://www.example.com:443/a/b?c=d#f|HTTP/1.1|https|www.example.com|443|/a/b|c=d",
		"- - - ":                         "|||||0||",
		"- http://host:80- -":            "|http://host:80-||http|host|0||",
		"GET http://[2001:db8::1]:8080/": "GET|http://[2001:db8::1]:8080/||http|2001:db8::1|8080|/|",
		"OPTIONS * HTTP/1.1":             "OPTIONS|*|HTTP/1.1|||0|*|",
		"GET /a b HTTP/1.1":              "GET|/a b|HTTP/1.1|||0|/a b|",
	} {
		ParseRequest([]byte(line), &r)
		got := strings.Join([]string{string(r.Method), string(r.URL), string(r.Proto), string(r.Scheme), string(r.Domain),
			strconv.Itoa(r.Port), string(r.Path), string(r.Query)}, "|")
		if got != want {
			t.Errorf("%q: %s, want %s", line, got, want)
		}
	}
}
