package console

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kinflow/kinflow/internal/sink"
)

// ErrNotRead is returned, without a request being sent, for anything the console's client is asked that is not a
// read: the console never writes to the cluster, whatever a bug or a crafted request would make it do.
var ErrNotRead = errors.New("console: only searches are sent to the cluster")

// readOnly passes GET and POST to the read endpoints only: _search, _count, _mget and _field_caps.
type readOnly struct{ d sink.Doer }

var _ sink.Doer = readOnly{}

// ReadOnly wraps d so that only reads reach the cluster.
func ReadOnly(d sink.Doer) sink.Doer {
	if r, ok := d.(readOnly); ok {
		return r
	}
	return readOnly{d}
}

// AllowedRead reports whether method and path (with its query) are a read the console may send.
func AllowedRead(method, path string) bool {
	if method != "GET" && method != "POST" {
		return false
	}
	p, _, _ := strings.Cut(path, "?")
	last := p[strings.LastIndexByte(p, '/')+1:]
	switch last {
	case "_search", "_count", "_mget", "_field_caps":
		return true
	}
	return false
}

func (r readOnly) Do(ctx context.Context, method, path string, body []byte, maxBody int64) (int, []byte, error) {
	if !AllowedRead(method, path) {
		return 0, nil, fmt.Errorf("%w: refused %s %s", ErrNotRead, method, path)
	}
	return r.d.Do(ctx, method, path, body, maxBody)
}
