package schema

// DeadLetters returns the family of dead letters: what could not be processed, with why, written by internal/sink
// for the pipeline (decode, parse), the cluster (index) and the finalizer (webhook), and marked by internal/redrive.
func DeadLetters() Family { return deadLetters.clone() }

var deadLetters = Family{
	Name:    "deadletter",
	Title:   "dead letters",
	Indices: []string{"deadletter"},
	Fields: []Field{
		{Name: "@timestamp", Type: Date, Source: "the clock when the dead letter was made"},
		{Name: "stage", Type: Keyword, Source: "decode, parse, index or webhook", Description: "the step that failed"},
		{Name: "reason", Type: Keyword, Source: "the error's kind (`not_gzip`, `field_count`, the cluster's error type, ...)",
			Description: "the `reason` label of `kinflow_bad_input_total`"},
		{Name: "error", Type: Text, Source: "the error", Description: "the full message"},
		{Name: "shard_id", Type: Keyword, Source: "the Kinesis shard of the record (`webhook` for a delivery)"},
		{Name: "sequence_number", Type: Keyword, Source: "the record's sequence number (a delivery's idempotency key)"},
		{Name: "log_group", Type: Keyword, Source: "the CloudWatch Logs group of the record"},
		{Name: "log_stream", Type: Keyword, Source: "the CloudWatch Logs stream of the record"},
		{Name: "event_id", Type: Keyword, Source: "the CloudWatch Logs event id of the line"},
		{Name: "event_timestamp", Type: Date, Source: "the CloudWatch Logs event's timestamp (milliseconds)",
			Description: "stages parse and index; part of the flow's id, so a redrive gives the flow the id it would have had; absent in dead letters written before kinflow recorded it"},
		{Name: "target_index", Type: Keyword, Source: "the index of the document the cluster refused", Description: "stage index only"},
		{Name: "target_id", Type: Keyword, Source: "the id of that document", Description: "stage index only"},
		{Name: "original", Type: Text, NotIndexed: true, Source: "the input: the record's bytes, the line, or the webhook's body",
			Description: "kept whole and shown, never searched"},
		{Name: "original_encoding", Type: Keyword, Source: "utf8, or base64 when the original is not valid UTF-8"},
		// The redrive's marks: written by internal/redrive as an update of the letter, never by the pipeline, so
		// that a person can audit what a redrive did to each letter.
		{Name: "redrive.status", Type: Keyword, Source: "the last redrive of the letter: succeeded or failed",
			Description: "absent until a redrive; `succeeded` letters are left out of the next redrive"},
		{Name: "redrive.at", Type: Date, Source: "the clock when the last redrive marked the letter"},
		{Name: "redrive.flows", Type: Long, Source: "the flow documents the letter's input became in the last redrive",
			Description: "written or already there; 0 when it failed"},
		{Name: "redrive.previous_stage", Type: Keyword, Source: "the letter's stage before its first redrive",
			Description: "a failed redrive replaces stage, reason and error with the new ones"},
		{Name: "redrive.previous_reason", Type: Keyword, Source: "the letter's reason before its first redrive"},
	},
}
