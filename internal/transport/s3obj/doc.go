// Package s3obj is how log files that AWS writes to S3 arrive: it decodes the SQS message that announces an object
// (an S3 event notification, the same wrapped by SNS, or an EventBridge event), routes the object by its key to the
// log family AWS wrote it as (VPC flow logs, ALB, NLB, Classic ELB), opens it pinned to the version that was
// announced and resumes a broken download where it stopped, and reads it as numbered lines, gunzipping on the way
// without ever holding the whole object. It knows nothing of what a line means; internal/format does.
//
// Every error it returns for bad input or a failed read is an *Error with a Reason code (a metric label) that says
// whether retrying can help (Permanent): a dead-letter versus a retry.
package s3obj
