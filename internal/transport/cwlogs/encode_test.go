package cwlogs

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Encode is Decode's inverse: what it writes decodes to the same envelope, escapes and non-ASCII included.
func TestEncodeRoundTrip(t *testing.T) {
	want := Envelope{MessageType: DataMessage, Owner: "123456789012", LogGroup: "/vpc/flowlogs", LogStream: "eni-1-all",
		SubscriptionFilters: []string{"kinflow-redrive"}, LogEvents: []LogEvent{
			{ID: "37000000000000000000000000000000000000000000000000000001", Timestamp: 1795440060000, Message: `2 123 eni-1 "q" \ é`},
			{ID: "37000000000000000000000000000000000000000000000000000002", Timestamp: 1795440061250, Message: "tab\there"},
		}}
	data, err := Encode(&want)
	if err != nil {
		t.Fatal(err)
	}
	if !IsGzip(data) {
		t.Fatalf("not gzip: % x", data[:8])
	}
	d, err := NewDecoder(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var got Envelope
	if err := d.Decode(&got, data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
