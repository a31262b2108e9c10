package assemble

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/testing/testenv"
)

// TestS3Loader: an enrichment source in S3 (a GeoIP database, a threat list) is read whole with its ETag, answered
// "unchanged" (no data, the same version) until it is rewritten, then read again; a missing object is an error
// naming it.
func TestS3Loader(t *testing.T) {
	moto := testenv.URL(t, testenv.Moto)
	ctx := testenv.Context(t, time.Minute)
	var c config.Config
	c.Objects.S3Endpoint = moto
	client := S3(c, testenv.AWSConfig(moto))
	bucket := testenv.UniqueName(t, "kfenrich")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(body string) {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("lists/scanners.txt"),
			Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	load := s3Loader(client, bucket, "lists/scanners.txt")

	put("198.51.100.7\n")
	data, v1, err := load(ctx)
	if err != nil || string(data) != "198.51.100.7\n" || v1 == "" {
		t.Fatalf("first read: %q, version %q, %v", data, v1, err)
	}
	data, again, err := load(ctx)
	if err != nil || data != nil || again != v1 {
		t.Fatalf("unchanged: %q, version %q (want none and %q), %v", data, again, v1, err)
	}
	put("198.51.100.7\n203.0.113.0/24\n")
	data, v2, err := load(ctx)
	if err != nil || !bytes.Equal(data, []byte("198.51.100.7\n203.0.113.0/24\n")) || v2 == v1 || v2 == "" {
		t.Fatalf("rewritten: %q, version %q (the first was %q), %v", data, v2, v1, err)
	}
	_, _, err = s3Loader(client, bucket, "lists/none.txt")(ctx)
	if err == nil || !strings.Contains(err.Error(), "s3://"+bucket+"/lists/none.txt") {
		t.Fatalf("missing object: %v, want an error naming it", err)
	}
}
