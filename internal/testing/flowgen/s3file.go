package flowgen

import (
	"bytes"
	"compress/gzip"
	"strings"
)

// S3Header is the first line of a flow-log file AWS delivers to S3 in the default format: its fields' names.
const S3Header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"

// S3FileOf is the flow-log file AWS would deliver to S3 of lines in the default format: S3Header, then the lines,
// gzip'd.
func S3FileOf(lines []string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(S3Header + "\n"))
	for _, l := range lines {
		zw.Write([]byte(l + "\n"))
	}
	zw.Close()
	return buf.Bytes()
}

// S3File is the flow-log file of the batches' lines (S3FileOf). With breakEvery > 0, the line at index 3 of every
// breakEvery lines of each batch loses its last field: a bad line its readers must dead-letter. It returns the file,
// the lines that are whole (each a flow document, NODATA and SKIPDATA records included) and the number broken.
func S3File(batches []Batch, breakEvery int) (file []byte, whole []string, broken int) {
	var lines []string
	for _, b := range batches {
		for i, ev := range b.Events {
			line := ev.Message
			if breakEvery > 0 && i%breakEvery == 3 {
				line = line[:strings.LastIndexByte(line, ' ')]
				broken++
			} else if strings.Count(line, " ") == 13 {
				whole = append(whole, line)
			}
			lines = append(lines, line)
		}
	}
	return S3FileOf(lines), whole, broken
}
