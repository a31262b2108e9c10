package alerts

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kinflow/kinflow/internal/detect"
)

// goldenSignal is the signal of testdata/signal.golden.json, which also seeds FuzzDecodeSignal: an IPv6 unusual
// egress continuing an episode, with a technique, samples and a baseline, so that every field of a signal is there.
func goldenSignal(tb testing.TB) Signal {
	return sig(tb, detect.UnusualEgress, "2001:db8::1:5", 2, 0, 4.5, Active)
}

// windowSignals are the signals of one window revision (window 2, revision 3) in the order the webhook sends them:
// by IP (IPv4 before IPv6), then rule.
func windowSignals(tb testing.TB) []Signal {
	out := []Signal{
		sig(tb, detect.HorizontalScan, "10.0.1.77", 2, 2, 2.54, Active),  // raised
		sig(tb, detect.RejectStorm, "10.0.1.77", 2, 0, 12.5, Active),     // continued, a baseline, no technique
		sig(tb, detect.VerticalScan, "198.51.100.7", 2, 1, 3, Withdrawn), // withdrawn
		sig(tb, detect.HorizontalScan, "2001:db8::7", 2, 2, 1, Active),
		sig(tb, detect.UnusualEgress, "2001:db8::7", 2, 1, 6.25, Active),
	}
	for i := range out {
		out[i].Revision = 3
	}
	return out
}

func TestGolden(t *testing.T) {
	t.Run("signal", func(t *testing.T) {
		goldenJSON(t, "signal.golden.json", signalJSON(t, goldenSignal(t)))
	})
	t.Run("episode", func(t *testing.T) {
		const ip = "198.51.100.7"
		e, err := Summarize([]Signal{
			sig(t, detect.HorizontalScan, ip, 0, 0, 1.5, Active),
			sig(t, detect.HorizontalScan, ip, 1, 0, 12, Withdrawn),
			sig(t, detect.HorizontalScan, ip, 2, 0, 4, Active),
		})
		if err != nil {
			t.Fatal(err)
		}
		src, err := EpisodeJSON(&e)
		if err != nil {
			t.Fatal(err)
		}
		goldenJSON(t, "episode.golden.json", src)
	})
	t.Run("webhook", func(t *testing.T) {
		signals := windowSignals(t)
		want, err := WebhookBody(win(2), 3, signals)
		if err != nil {
			t.Fatal(err)
		}
		goldenJSON(t, "webhook.golden.json", want)
		for i, order := range orders(signals) {
			got, err := WebhookBody(win(2), 3, order)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("order %d: body differs from the body of the signals in order:\n%s", i, cmp.Diff(string(want), string(got)))
			}
		}
	})
}

func TestWebhookBodyEmpty(t *testing.T) {
	got, err := WebhookBody(win(0), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"window":{"start":1700000400,"end":1700001000},"revision":1,"alerts":[]}`; string(got) != want {
		t.Errorf("WebhookBody(no signals) = %s, want %s", got, want)
	}
}
