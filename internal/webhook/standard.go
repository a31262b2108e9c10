package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// The Standard Webhooks (https://www.standardwebhooks.com, spec v1.0.0) request headers. Receivers verify them with
// any of the specification's libraries instead of code written for kinflow; the timestamp lets them refuse replays,
// which X-Kinflow-Signature (the body alone) cannot.
const (
	HeaderID        = "webhook-id"        // the message id, the same on every attempt: the Idempotency-Key
	HeaderTimestamp = "webhook-timestamp" // the attempt's time, integer Unix seconds
	HeaderSignature = "webhook-signature" // "v1,<base64 HMAC-SHA256 of id.timestamp.body>"
)

// StandardSecretPrefix marks a secret serialized as the specification presents symmetric keys: the prefix, then
// the key bytes in standard base64.
const StandardSecretPrefix = "whsec_"

// StandardKey returns the HMAC key of the Standard Webhooks signature for a configured secret: the decoded bytes
// of a "whsec_" secret, else the secret's bytes as they are (the key X-Kinflow-Signature uses), so one secret
// serves both signatures. A "whsec_" secret that is not base64 of at least one byte is an error: taking it
// literally would sign with a key the receiver's library never derives.
func StandardKey(secret []byte) ([]byte, error) {
	enc, ok := bytes.CutPrefix(secret, []byte(StandardSecretPrefix))
	if !ok {
		return secret, nil
	}
	key := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
	n, err := base64.StdEncoding.Decode(key, enc)
	if err != nil {
		// The decoder's error names only an offset, never the secret's bytes.
		return nil, fmt.Errorf("secret %s...: not standard base64 after the prefix: %w", StandardSecretPrefix, err)
	}
	if n == 0 {
		return nil, errors.New("secret " + StandardSecretPrefix + "...: no key after the prefix")
	}
	return key[:n], nil
}

// SignStandard returns the webhook-signature value of a message: "v1," and the padded standard base64 of
// HMAC-SHA256(key, id + "." + timestamp + "." + body). The id must not contain '.', or the signed content would
// be ambiguous; kinflow's ids (IdempotencyKey) have none.
func SignStandard(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	// Written piece by piece: the body can be megabytes and is not copied into one signed string.
	var ts [20]byte
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(ts[:0], timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// setStandard sets the Standard Webhooks headers of one attempt. A nil key (no secret configured) still sends the
// id and the timestamp, which a receiver may use for idempotency without any signature.
func setStandard(h http.Header, key []byte, id string, timestamp int64, body []byte) {
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp, 10))
	if key != nil {
		h.Set(HeaderSignature, SignStandard(key, id, timestamp, body))
	}
}
