package pipeline

// A ChunkSize bounds what a runtime holds at once. A GetRecords answer (up to 10,000 records, 10 MB) or a Lambda
// batch (up to 6 MB) can decompress to hundreds of MB of documents (CloudWatch Logs records inflate about tenfold,
// and a flow's document is some four times its line), so both runtimes prepare and commit it a chunk at a time: at
// most Records records and, past the first record, Bytes of compressed data.
type ChunkSize struct {
	Records, Bytes int
}

// Len is the length of the first chunk of records: at least one record when there is one, whatever the bounds, so
// a loop over chunks always moves on.
func (c ChunkSize) Len(records []Record) int {
	n, size := 0, 0
	for n < len(records) && (n == 0 || n < c.Records && size+len(records[n].Data) <= c.Bytes) {
		size += len(records[n].Data)
		n++
	}
	return n
}
