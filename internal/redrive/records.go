package redrive

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kinflow/kinflow/internal/pipeline"
	"github.com/kinflow/kinflow/internal/sink"
	"github.com/kinflow/kinflow/internal/transport/cwlogs"
)

// recordKey names the Kinesis record a letter came from.
type recordKey struct{ shard, seq string }

func (k recordKey) less(o recordKey) bool {
	return k.shard < o.shard || (k.shard == o.shard && k.seq < o.seq)
}

// A group is the letters of one record, and the record a redrive sends through the pipeline for them.
type group struct {
	key     recordKey
	letters []Letter // in sortKeys order
	// skipped are letters that cannot be redriven, with why (no original, a webhook letter).
	skipped map[string]string
	record  pipeline.Record
	// events are the letters that became the record's events, by event id (parse and index letters).
	events map[string][]int
	// missingTimestamp counts events sent without their original timestamp (letters written before kinflow
	// recorded it).
	missingTimestamp int
}

// groupLetters cuts letters (sorted by record, as search returns them) into one group per record and makes each
// group's record: a decode letter's record is its original bytes; parse and index letters become the events of a
// synthesized CloudWatch Logs envelope with their log group and stream, ids, timestamps and lines.
func groupLetters(letters []Letter) ([]group, error) {
	var groups []group
	for i := 0; i < len(letters); {
		k := recordKey{letters[i].ShardID, letters[i].SequenceNumber}
		j := i + 1
		for j < len(letters) && (recordKey{letters[j].ShardID, letters[j].SequenceNumber}) == k {
			j++
		}
		g, err := makeGroup(k, letters[i:j])
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
		i = j
	}
	return groups, nil
}

func makeGroup(k recordKey, letters []Letter) (group, error) {
	g := group{key: k, letters: letters, skipped: map[string]string{}, events: map[string][]int{}, record: pipeline.Record{SequenceNumber: k.seq}}
	var events []cwlogs.LogEvent
	var logGroup, logStream string
	for i := range letters {
		l := &letters[i]
		switch {
		case l.ShardID == "" || l.SequenceNumber == "":
			g.skipped[l.ID] = "no record: the letter names no shard or sequence number"
		case l.Original == "":
			g.skipped[l.ID] = "no original input to redrive"
		case l.Stage == sink.StageDecode:
			if g.record.Data != nil {
				g.skipped[l.ID] = "a second decode letter of the same record"
				continue
			}
			raw, err := l.OriginalBytes()
			if err != nil {
				return group{}, err
			}
			g.record.Data = raw
		case l.Stage == sink.StageParse || l.Stage == sink.StageIndex:
			if l.EventID == "" {
				g.skipped[l.ID] = "no event id: not the letter of a line"
				continue
			}
			if logGroup == "" {
				logGroup, logStream = l.LogGroup, l.LogStream
			}
			if _, dup := g.events[l.EventID]; !dup {
				ts, ok := l.eventMillis()
				if !ok {
					g.missingTimestamp++
				}
				events = append(events, cwlogs.LogEvent{ID: l.EventID, Timestamp: ts, Message: l.Original})
			}
			g.events[l.EventID] = append(g.events[l.EventID], i)
		default:
			g.skipped[l.ID] = fmt.Sprintf("stage %s cannot be redriven", l.Stage)
		}
	}
	if len(events) > 0 {
		if g.record.Data != nil {
			// A record that failed to decode has no events: both at once means the index holds letters of two
			// different records under one name.
			for _, idx := range g.events {
				for _, i := range idx {
					g.skipped[letters[i].ID] = "the record also has a decode letter"
				}
			}
			g.events = map[string][]int{}
			return g, nil
		}
		slices.SortFunc(events, func(a, b cwlogs.LogEvent) int { return strings.Compare(a.ID, b.ID) })
		data, err := cwlogs.Encode(&cwlogs.Envelope{MessageType: cwlogs.DataMessage, LogGroup: logGroup, LogStream: logStream,
			SubscriptionFilters: []string{"kinflow-redrive"}, LogEvents: events})
		if err != nil {
			return group{}, err
		}
		g.record.Data = data
	}
	return g, nil
}
