package pipeline

// Chunks bound what a runtime holds at once. A GetRecords answer (up to 10,000 records, 10 MB) or a Lambda batch
// (up to 6 MB) can decompress to hundreds of MB of documents, so both runtimes prepare and commit it a chunk at a
// time: at most ChunkRecords records and, past the first record, ChunkBytes of compressed data (CloudWatch Logs
// records inflate about tenfold, and a flow's document is some four times its line).
const (
	ChunkRecords = 100
	ChunkBytes   = 128 << 10
)

// ChunkLen is the length of the first chunk of records: at least one record when there is one.
func ChunkLen(records []Record) int {
	n, size := 0, 0
	for n < len(records) && n < ChunkRecords && (n == 0 || size+len(records[n].Data) <= ChunkBytes) {
		size += len(records[n].Data)
		n++
	}
	return n
}
