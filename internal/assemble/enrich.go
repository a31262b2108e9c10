package assemble

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kinflow/kinflow/internal/config"
	"github.com/kinflow/kinflow/internal/enrich"
	"github.com/kinflow/kinflow/internal/enrich/awsres"
	"github.com/kinflow/kinflow/internal/enrich/geoip"
	"github.com/kinflow/kinflow/internal/enrich/threat"
	"github.com/kinflow/kinflow/internal/sink"
)

// maxEnrichObject bounds a GeoIP database or threat list read from S3.
const maxEnrichObject = 512 << 20

// Enricher builds the enrichment sources c configures, loads each once, and keeps them fresh in the background for
// as long as the process lives. nil when nothing is configured. The VPCs' interfaces and the threat lists that fail
// to load are logged and start empty; a GeoIP database that cannot be opened is an error (geoip.New), so the
// process does not start.
func Enricher(ctx context.Context, c config.Config, awsCfg aws.Config, reg prometheus.Registerer, log *slog.Logger) (*enrich.Enricher, error) {
	e := c.Enrich
	if !e.AWS && e.GeoIPCity == "" && e.GeoIPASN == "" && len(e.Threats) == 0 {
		return nil, nil
	}
	log = log.With("component", "enrich")
	// The sources outlive the call that builds them (a Lambda invocation): their refreshes run on a context of
	// their own.
	bg := context.WithoutCancel(ctx)
	// One S3 client for every database and list read from S3, made when the first is.
	s3Client := sync.OnceValue(func() *s3.Client { return S3(c, awsCfg) })
	var res enrich.Resources
	if e.AWS {
		cfg := awsres.DefaultConfig()
		cfg.Interval = e.Refresh
		regions := e.Regions
		if len(regions) == 0 {
			regions = []string{c.Region}
		}
		for _, region := range regions {
			cfg.Targets = append(cfg.Targets, awsres.Target{Region: region})
			for _, role := range e.Roles {
				cfg.Targets = append(cfg.Targets, awsres.Target{Region: region, RoleARN: role})
			}
		}
		base := awsCfg.Copy()
		if c.EC2Endpoint != "" {
			base.BaseEndpoint = aws.String(c.EC2Endpoint)
		}
		r, err := awsres.New(cfg, awsres.NewClientFactory(base), awsres.Options{Registerer: reg, Logger: log})
		if err != nil {
			return nil, err
		}
		if err := r.Refresh(ctx); err != nil {
			log.Warn("reading the VPCs' interfaces failed; flows are enriched from the next refresh on", "error", err)
		}
		go r.Run(bg)
		res = r.Enrichment()
	}
	var geo enrich.Geos
	if e.GeoIPCity != "" || e.GeoIPASN != "" {
		cfg := geoip.DefaultConfig()
		cfg.ReloadInterval = e.Refresh
		cfg.City, cfg.ASN = database(s3Client, e.GeoIPCity), database(s3Client, e.GeoIPASN)
		db, err := geoip.New(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		go db.Run(bg)
		geo = db.Enrichment()
	}
	var threats enrich.Threats
	if len(e.Threats) > 0 {
		cfg := threat.DefaultConfig()
		cfg.Interval = e.Refresh
		for _, name := range slices.Sorted(maps.Keys(e.Threats)) {
			src := threat.Source{Name: name}
			if bucket, key, ok := s3URI(e.Threats[name]); ok {
				src.Load = s3Loader(s3Client(), bucket, key)
			} else {
				src.Path = e.Threats[name]
			}
			cfg.Sources = append(cfg.Sources, src)
		}
		r, err := threat.NewReloader(cfg, threat.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		if _, err := r.Reload(ctx); err != nil {
			log.Warn("loading the threat lists failed; flows are matched from the next reload on", "error", err)
		}
		go r.Run(bg)
		threats = r.Enrichment()
	}
	return enrich.New(res, geo, threats), nil
}

// database is the GeoIP database at where: a path, or an S3 object read whole with the client s3Client makes; none
// when where is empty.
func database(s3Client func() *s3.Client, where string) geoip.Database {
	if where == "" {
		return geoip.Database{}
	}
	if bucket, key, ok := s3URI(where); ok {
		return geoip.Database{Name: where, Load: geoip.LoadFunc(s3Loader(s3Client(), bucket, key))}
	}
	return geoip.Database{Path: where}
}

// s3URI splits s3://bucket/key.
func s3URI(v string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(v, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok && bucket != "" && key != ""
}

// s3Loader reads an S3 object when its ETag changed since the last read it returned: unchanged, it answers no data
// and the same version, which the sources take as "keep what you have" (and refuse as an error when that version
// is not the one they hold: a read they rejected is read again after it changes).
func s3Loader(client *s3.Client, bucket, key string) func(ctx context.Context) ([]byte, string, error) {
	var last string
	return func(ctx context.Context) ([]byte, string, error) {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err != nil {
			return nil, "", fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		etag := aws.ToString(head.ETag)
		if etag != "" && etag == last {
			return nil, etag, nil
		}
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, IfMatch: head.ETag})
		if err != nil {
			return nil, "", fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		defer out.Body.Close()
		data, err := sink.ReadLimited(out.Body, maxEnrichObject)
		if err != nil {
			return nil, "", fmt.Errorf("s3://%s/%s: %w", bucket, key, err)
		}
		last = etag
		return data, etag, nil
	}
}
