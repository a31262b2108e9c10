// route.go owns routing by key: which log family an object is, from the layouts AWS writes (VPC flow logs, plain
// and Hive-compatible; Elastic Load Balancing) or from the configured overrides, and the parts the key names.

package s3obj

import (
	"slices"
	"strings"
)

// Kind is the log family of an object, which decides the format package that reads its lines.
type Kind string

// The kinds. KindUnknown is never routed to: an object of no known kind is an error.
const (
	KindUnknown        Kind = ""
	KindVPCFlow        Kind = "vpcflow"         // VPC (and Transit Gateway) flow logs, text, gzip
	KindVPCFlowParquet Kind = "vpcflow-parquet" // the same in Apache Parquet
	KindALB            Kind = "alb"             // Application Load Balancer access logs
	KindALBConnection  Kind = "alb-connection"  // Application Load Balancer connection logs (conn_log_ files)
	KindNLB            Kind = "nlb"             // Network Load Balancer access logs (TLS listeners)
	KindELB            Kind = "elb"             // Classic Load Balancer access logs
)

// Kinds lists the kinds an Override may name.
var Kinds = []Kind{KindVPCFlow, KindVPCFlowParquet, KindALB, KindALBConnection, KindNLB, KindELB}

func (k Kind) valid() bool { return k == KindUnknown || slices.Contains(Kinds, k) }

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Layout says how a key was routed.
type Layout string

// The layouts.
const (
	LayoutOverride Layout = "override" // a configured Override matched
	LayoutAWS      Layout = "aws"      // AWSLogs/<account>/<service>/<region>/YYYY/MM/DD[/HH]/<file>
	LayoutAWSHive  Layout = "aws-hive" // AWSLogs/aws-account-id=<account>/aws-service=.../year=YYYY/...
)

// A Route is where an object goes and what its key says. The strings share the key's memory.
type Route struct {
	Kind   Kind
	Layout Layout
	// The parts of an AWS layout; empty when an override routed a key that does not follow one.
	Prefix     string // what precedes AWSLogs/ (the bucket prefix the log delivery was given), without the slash
	Account    string // the 12-digit account id
	Region     string
	ResourceID string // the flow log id (fl-...), or the load balancer id: app.<name>.<id>, net.<name>.<id>, <name>
	EndTime    string // the file name's time stamp, YYYYMMDDTHHmmZ (UTC)
	Compressed bool   // the name ends in .gz (flow log Parquet files are gzip'd inside, not as a whole)
}

// A Router routes keys to kinds. It is immutable and safe for concurrent use.
type Router struct {
	overrides []Override // longest prefix first; an exact bucket before "*" at the same length
}

// NewRouter returns a router for cfg's overrides, or every problem of cfg.
func NewRouter(cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := slices.Clone(cfg.Overrides)
	slices.SortStableFunc(o, func(a, b Override) int {
		if d := len(b.Prefix) - len(a.Prefix); d != 0 {
			return d
		}
		return boolInt(a.Bucket == "*") - boolInt(b.Bucket == "*")
	})
	return &Router{overrides: o}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Route routes the object bucket/key (the key decoded, as ParseMessage returns it): the first override that
// matches, else the AWS layout the key follows, else an *Error with ReasonUnknownLayout naming bucket and key.
func (r *Router) Route(bucket, key string) (Route, error) {
	for _, o := range r.overrides {
		if (o.Bucket == "*" || o.Bucket == bucket) && strings.HasPrefix(key, o.Prefix) {
			rt, _ := parseAWSKey(key) // the parts, when the key has them, help to name documents
			rt.Kind, rt.Layout = o.Kind, LayoutOverride
			return rt, nil
		}
	}
	rt, why := parseAWSKey(key)
	if why != "" {
		e := newError("route", ReasonUnknownLayout, why+"; add an Override for this bucket and prefix if it is a log")
		e.Bucket, e.Key = bucket, key
		return Route{}, e
	}
	return rt, nil
}

const awsLogs = "AWSLogs/"

// hiveNames are the names of the Hive-compatible folders, in order.
var hiveNames = [...]string{"aws-account-id=", "aws-service=", "aws-region=", "year=", "month=", "day=", "hour="}

// parseAWSKey reads a key AWS log delivery wrote, or says why it is not one.
func parseAWSKey(key string) (Route, string) {
	i := 0
	for {
		j := strings.Index(key[i:], awsLogs)
		if j < 0 {
			return Route{}, "no AWSLogs/ folder in the key"
		}
		i += j
		if i == 0 || key[i-1] == '/' {
			break
		}
		i += len(awsLogs)
	}
	r := Route{Prefix: strings.TrimSuffix(key[:i], "/")}
	rest := key[i+len(awsLogs):]
	slash := strings.LastIndexByte(rest, '/')
	if slash < 0 {
		return Route{}, "no folders under AWSLogs/"
	}
	dir, file := rest[:slash], rest[slash+1:]
	var segs [8]string
	n := 0
	for s := range strings.SplitSeq(dir, "/") {
		if n == len(segs) {
			return Route{}, "too many folders under AWSLogs/"
		}
		segs[n] = s
		n++
	}
	if n != 6 && n != 7 { // account, service, region, year, month, day, and the hour of hourly partitions
		return Route{}, "want AWSLogs/<account>/<service>/<region>/YYYY/MM/DD[/HH]/<file>"
	}
	var service string
	if strings.HasPrefix(segs[0], "aws-account-id=") {
		r.Layout = LayoutAWSHive
		for k, name := range hiveNames[:n] {
			v, ok := strings.CutPrefix(segs[k], name)
			if !ok {
				return Route{}, "Hive-compatible folder " + segs[k] + ": want " + name + "..."
			}
			segs[k] = v
		}
	} else {
		r.Layout = LayoutAWS
	}
	r.Account, service, r.Region = segs[0], segs[1], segs[2]
	if !digits(r.Account, 12) {
		return Route{}, "account folder " + r.Account + " is not a 12-digit account id"
	}
	if !digits(segs[3], 4) || !digits(segs[4], 2) || !digits(segs[5], 2) || n == 7 && !digits(segs[6], 2) {
		return Route{}, "date folders are not YYYY/MM/DD[/HH]"
	}
	switch service {
	case "vpcflowlogs":
		return parseFlowLogFile(r, file)
	case "elasticloadbalancing":
		if n == 6 {
			return parseELBFile(r, file)
		}
		return Route{}, "elasticloadbalancing keys have no hour folder"
	}
	return Route{}, "service folder " + service + ": known are vpcflowlogs and elasticloadbalancing"
}

// parseFlowLogFile reads <account>_vpcflowlogs_<region>_<flow-log-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz (or
// .log.parquet for Parquet).
func parseFlowLogFile(r Route, file string) (Route, string) {
	var f [6]string
	if !splitN(file, '_', f[:]) || f[1] != "vpcflowlogs" {
		return Route{}, "flow log file name " + file + ": want <account>_vpcflowlogs_<region>_<flow-log-id>_<time>_<hash>.log.gz"
	}
	if why := r.sameOrigin(f[0], f[2], file); why != "" {
		return Route{}, why
	}
	if !strings.HasPrefix(f[3], "fl-") || !endTime(f[4]) {
		return Route{}, "flow log file name " + file + ": want a flow log id fl-... and a time YYYYMMDDTHHmmZ"
	}
	r.ResourceID, r.EndTime = f[3], f[4]
	_, ext, _ := strings.Cut(f[5], ".")
	switch ext {
	case "log.gz":
		r.Kind, r.Compressed = KindVPCFlow, true
	case "log.parquet", "parquet":
		r.Kind = KindVPCFlowParquet
	default:
		return Route{}, "flow log file name " + file + ": want .log.gz or .log.parquet"
	}
	return r, ""
}

// parseELBFile reads [conn_log_]<account>_elasticloadbalancing_<region>_<load-balancer-id>_<end-time>_... where
// ALB files end _<ip>_<random>.log.gz, NLB files _<random>.log.gz and Classic files _<ip>_<random>.log.
func parseELBFile(r Route, file string) (Route, string) {
	// AWS's guide spells the connection log prefix "conn_log." but S3 shows "conn_log_"; take both.
	name, conn := strings.CutPrefix(file, "conn_log_")
	if !conn {
		name, conn = strings.CutPrefix(file, "conn_log.")
	}
	var f [7]string
	six, seven := splitN(name, '_', f[:6]), splitN(name, '_', f[:])
	if !six && !seven || f[1] != "elasticloadbalancing" {
		return Route{}, "load balancer log file name " + file +
			": want <account>_elasticloadbalancing_<region>_<load-balancer-id>_<end-time>_[<ip>_]<random>.log[.gz]"
	}
	if why := r.sameOrigin(f[0], f[2], file); why != "" {
		return Route{}, why
	}
	if !endTime(f[4]) {
		return Route{}, "load balancer log file name " + file + ": end time " + f[4] + " is not YYYYMMDDTHHmmZ"
	}
	r.ResourceID, r.EndTime = f[3], f[4]
	last := f[5]
	if seven {
		last = f[6]
	}
	switch {
	case strings.HasSuffix(last, ".log.gz"):
		r.Compressed = true
	case strings.HasSuffix(last, ".log"):
	default:
		return Route{}, "load balancer log file name " + file + ": want .log.gz or .log"
	}
	typ, rest, dotted := strings.Cut(r.ResourceID, ".")
	switch {
	case dotted && typ == "app" && strings.Contains(rest, ".") && seven:
		r.Kind = KindALB
		if conn {
			r.Kind = KindALBConnection
		}
	case dotted && typ == "net" && strings.Contains(rest, ".") && six && !conn:
		r.Kind = KindNLB
	case !dotted && !conn && !r.Compressed: // AWS's guide shows Classic names with and without the random part
		r.Kind = KindELB
	default:
		return Route{}, "load balancer id " + r.ResourceID + " in " + file +
			": want app.<name>.<id> (ALB), net.<name>.<id> (NLB) or a Classic Load Balancer name"
	}
	return r, ""
}

// sameOrigin checks that the file name names the account and region of its folders: a file that does not was
// not put there by log delivery, and its parts cannot be trusted.
func (r Route) sameOrigin(account, region, file string) string {
	if account != r.Account || region != r.Region {
		return "file name " + file + " names account " + account + " and region " + region +
			", its folders " + r.Account + " and " + r.Region
	}
	return ""
}

// splitN splits s at every sep into exactly len(f) fields, none empty.
func splitN(s string, sep byte, f []string) bool {
	for i := range f {
		if i == len(f)-1 {
			f[i] = s
			break
		}
		j := strings.IndexByte(s, sep)
		if j <= 0 {
			return false
		}
		f[i], s = s[:j], s[j+1:]
	}
	return f[len(f)-1] != "" && strings.IndexByte(f[len(f)-1], sep) < 0
}

// endTime reports whether s is YYYYMMDDTHHmmZ.
func endTime(s string) bool {
	return len(s) == 14 && digits(s[:8], 8) && s[8] == 'T' && digits(s[9:13], 4) && s[13] == 'Z'
}

func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
