// Package schema is the field registry: one row per document field of every document family (flows, connection
// sets, dead letters, and the families to come), from which the encoders' tables, the index templates, the
// README's field tables and the CDK's list are made.
//
// A family is a file of rows (flows.go, conns.go, deadletter.go) named in Families; a new format adds one, and the
// index templates (internal/sink), the README's tables (between <!-- fields:<name>:begin --> and
// <!-- fields:<name>:end -->, rewritten by go test ./internal/schema -update) and the checks against the encoders
// and the clusters follow. The package imports only the standard library: the CDK module reads it too.
package schema
