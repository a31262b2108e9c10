// Package schema is the field registry: one row per document field of every document family (flows, connection
// sets, dead letters, and the families to come), from which the encoders' tables, the index templates, the
// README's field tables and the CDK's list are made.
package schema
