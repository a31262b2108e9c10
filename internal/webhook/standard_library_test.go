package webhook_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kinflow/kinflow/aggregate"
	"github.com/kinflow/kinflow/internal/webhook"
)

// The point of the Standard Webhooks headers is that receivers verify them with an existing library: the
// specification's own Go library accepts every request kinflow sends, with a plain secret and with a whsec_ one,
// on the real clock (its replay tolerance is five minutes), and refuses the same request with another body.
func TestStandardWebhooksLibraryVerifies(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	for _, tt := range []struct {
		name   string
		secret []byte // as configured
		verify func() (*standardwebhooks.Webhook, error)
	}{
		{"plain secret", []byte("shared secret"), func() (*standardwebhooks.Webhook, error) {
			return standardwebhooks.NewWebhookRaw([]byte("shared secret"))
		}},
		{"whsec_ secret", []byte("whsec_" + base64.StdEncoding.EncodeToString(key)), func() (*standardwebhooks.Webhook, error) {
			return standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(key))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wh, err := tt.verify()
			if err != nil {
				t.Fatal(err)
			}
			verified, tampered := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := wh.Verify(body, r.Header); err != nil {
					t.Errorf("the library refuses kinflow's request: %v", err)
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				verified++
				if wh.Verify(append(body, ' '), r.Header) != nil {
					tampered++
				}
			}))
			defer srv.Close()
			cfg := webhook.DefaultConfig()
			cfg.URL, cfg.Secret = srv.URL+"/connection_sets/{bucket_time}", tt.secret
			client, err := webhook.New(cfg, webhook.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				chunk := &webhook.Chunk{WindowStart: 1700000400, WindowEnd: 1700001000, Revision: 1, Index: i, Last: i == 2,
					Sets: []aggregate.Final{{Revision: 1, ConnSet: aggregate.ConnSet{WindowStart: 1700000400,
						WindowEnd: 1700001000, IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), PeersCount: uint64(i + 1)}}}}
				if err := client.Deliver(context.Background(), chunk); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
			}
			if verified != 3 || tampered != 3 {
				t.Errorf("verified %d of 3 requests, refused %d of 3 with another body", verified, tampered)
			}
		})
	}
}
