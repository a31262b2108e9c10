// notification.go owns the decoding of the SQS message bodies that announce S3 objects: S3 event notifications
// (straight or through SNS), the s3:TestEvent, and EventBridge "Object Created" events.

package s3obj

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Shape is the kind of message ParseMessage recognised.
type Shape uint8

// The shapes of message an SQS queue receives about S3 objects.
const (
	ShapeUnknown     Shape = iota
	ShapeS3Event           // {"Records":[{"eventSource":"aws:s3",...}]}, also SNS raw message delivery
	ShapeS3TestEvent       // {"Service":"Amazon S3","Event":"s3:TestEvent",...}: sent once when notifications are set up
	ShapeSNS               // an SNS envelope ({"Type":"Notification","Message":"<json>"}) around one of the others
	ShapeEventBridge       // {"source":"aws.s3","detail-type":"Object Created","detail":{...}}
)

func (s Shape) String() string {
	switch s {
	case ShapeS3Event:
		return "s3_event"
	case ShapeS3TestEvent:
		return "s3_test_event"
	case ShapeSNS:
		return "sns"
	case ShapeEventBridge:
		return "eventbridge"
	}
	return "unknown"
}

// MarshalText writes the shape by name, for logs and golden files.
func (s Shape) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// A Notification is what one SQS message announces.
type Notification struct {
	Shape Shape
	// Inner is the shape inside an SNS envelope; ShapeUnknown otherwise.
	Inner Shape
	// Objects are the created objects to read, in message order.
	Objects []Event
	// Skipped are the records that announce something other than a created object (a deletion, a restore, an SNS
	// subscription confirmation): recognised, and not failures.
	Skipped []Skipped
}

// IsTest reports whether n is the s3:TestEvent S3 sends when a notification is configured: nothing to read.
func (n Notification) IsTest() bool {
	return n.Shape == ShapeS3TestEvent || n.Inner == ShapeS3TestEvent
}

// An Event is one created object and what the notification said about it.
type Event struct {
	Object ObjectRef
	Name   string    // "ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", or EventBridge's "Object Created"
	Time   time.Time // when S3 finished the request; zero when absent or malformed
	Region string    // the bucket's region
}

// Skipped is a record that is not an object creation.
type Skipped struct {
	Name   string // the event name or SNS message type
	Bucket string
	Key    string
	Reason string // why it is not read
}

// ParseMessage decodes an SQS message body. A body that is none of the shapes is an *Error with ReasonNotJSON,
// ReasonUnknownShape, ReasonMissingField or ReasonBadKeyEncoding, all permanent. A test event or a message that
// announces only deletions is not an error: it yields no Objects.
func ParseMessage(body []byte) (Notification, error) {
	var n Notification
	shape, err := parseInto(&n, body, true)
	n.Shape = shape
	return n, err
}

// probe holds the members that tell the shapes apart. encoding/json matches names without regard to case, so no
// two of these may differ only in case.
type probe struct {
	Records    json.RawMessage `json:"Records"`
	Type       string          `json:"Type"`
	Message    *string         `json:"Message"`
	Service    string          `json:"Service"`
	Event      string          `json:"Event"`
	Bucket     string          `json:"Bucket"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Region     string          `json:"region"`
	EventTime  string          `json:"time"`
	Detail     json.RawMessage `json:"detail"`
}

func parseInto(n *Notification, body []byte, allowSNS bool) (Shape, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return ShapeUnknown, newError("message", ReasonNotJSON, describeBody(body))
	}
	var p probe
	if err := json.Unmarshal(body, &p); err != nil {
		return ShapeUnknown, newError("message", ReasonNotJSON, err.Error())
	}
	switch {
	case p.Records != nil:
		return ShapeS3Event, parseRecords(n, p.Records)
	case p.Event == "s3:TestEvent":
		return ShapeS3TestEvent, nil
	case p.Type != "" && p.Message != nil && allowSNS:
		if p.Type != "Notification" {
			// SubscriptionConfirmation and UnsubscribeConfirmation reach a queue subscribed to a topic; they
			// announce no object, and confirming a subscription is not this package's business.
			n.Skipped = append(n.Skipped, Skipped{Name: p.Type, Reason: "SNS message of type " + p.Type})
			return ShapeSNS, nil
		}
		inner, err := parseInto(n, []byte(*p.Message), false)
		n.Inner = inner
		if err != nil {
			if e, ok := err.(*Error); ok {
				e.Detail = "in the SNS Message: " + e.Detail
			}
		}
		return ShapeSNS, err
	case p.Source == "aws.s3" && p.DetailType != "":
		return ShapeEventBridge, parseEventBridge(n, &p)
	}
	return ShapeUnknown, newError("message", ReasonUnknownShape,
		"none of Records (S3 event), Event s3:TestEvent, Type+Message (SNS), source aws.s3 (EventBridge)")
}

type s3Record struct {
	EventSource string `json:"eventSource"`
	AWSRegion   string `json:"awsRegion"`
	EventTime   string `json:"eventTime"`
	EventName   string `json:"eventName"`
	S3          struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"eTag"`
			VersionID string `json:"versionId"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

func parseRecords(n *Notification, raw json.RawMessage) error {
	var recs []s3Record
	if err := json.Unmarshal(raw, &recs); err != nil {
		return newError("message", ReasonUnknownShape, "Records: "+err.Error())
	}
	if len(recs) == 0 {
		return newError("message", ReasonUnknownShape, "Records is empty")
	}
	for i, r := range recs {
		if r.EventSource != "" && r.EventSource != "aws:s3" {
			return newError("message", ReasonUnknownShape,
				fmt.Sprintf("Records[%d]: eventSource %q, not aws:s3 (a message for another consumer?)", i, r.EventSource))
		}
		bucket := r.S3.Bucket.Name
		// S3 writes the key as in a URL query: a space as '+', other bytes as %XX. Decoding it is what makes
		// "2024/01/a+b.log" and "2024/01/a b.log" different objects.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			e := newError("message", ReasonBadKeyEncoding, fmt.Sprintf("Records[%d].s3.object.key: %v", i, err))
			e.Bucket, e.Key = bucket, r.S3.Object.Key
			return e
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			n.Skipped = append(n.Skipped, Skipped{Name: r.EventName, Bucket: bucket, Key: key, Reason: "not an object creation"})
			continue
		}
		if bucket == "" || key == "" {
			return newError("message", ReasonMissingField, fmt.Sprintf("Records[%d]: s3.bucket.name or s3.object.key is empty", i))
		}
		n.Objects = append(n.Objects, Event{
			Object: ObjectRef{
				Bucket: bucket, Key: key, VersionID: r.S3.Object.VersionID, ETag: unquote(r.S3.Object.ETag),
				Size: r.S3.Object.Size, Sequencer: r.S3.Object.Sequencer,
			},
			Name: r.EventName, Time: parseTime(r.EventTime), Region: r.AWSRegion,
		})
	}
	return nil
}

type ebDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key       string `json:"key"`
		Size      int64  `json:"size"`
		ETag      string `json:"etag"`
		VersionID string `json:"version-id"`
		Sequencer string `json:"sequencer"`
	} `json:"object"`
	Reason string `json:"reason"`
}

func parseEventBridge(n *Notification, p *probe) error {
	var d ebDetail
	if len(p.Detail) == 0 {
		return newError("message", ReasonMissingField, "EventBridge event without detail")
	}
	if err := json.Unmarshal(p.Detail, &d); err != nil {
		return newError("message", ReasonUnknownShape, "detail: "+err.Error())
	}
	// EventBridge carries the key as it is, not URL-encoded.
	bucket, key := d.Bucket.Name, d.Object.Key
	if p.DetailType != "Object Created" {
		n.Skipped = append(n.Skipped, Skipped{Name: p.DetailType, Bucket: bucket, Key: key, Reason: "not an object creation"})
		return nil
	}
	if bucket == "" || key == "" {
		return newError("message", ReasonMissingField, "detail.bucket.name or detail.object.key is empty")
	}
	n.Objects = append(n.Objects, Event{
		Object: ObjectRef{
			Bucket: bucket, Key: key, VersionID: d.Object.VersionID, ETag: unquote(d.Object.ETag),
			Size: d.Object.Size, Sequencer: d.Object.Sequencer,
		},
		Name: p.DetailType, Time: parseTime(p.EventTime), Region: p.Region,
	})
	return nil
}

// unquote drops the quotes of an HTTP entity tag; S3 events carry the ETag bare, GetObject answers it quoted.
func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// describeBody says what a body that is not a JSON object looks like, for whoever reads the dead letter.
func describeBody(b []byte) string {
	if len(b) == 0 {
		return "empty body"
	}
	return fmt.Sprintf("starts with %q, not a JSON object", b[:min(len(b), 24)])
}
