package ui

import (
	"fmt"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Hot-key lesson thresholds: a key is called hot when it alone carries
// half of a shard's write limit, measured over hotWindow of the feed, and
// said again no sooner than hotRepeat.
const (
	hotShare  = 0.5
	hotWindow = 2 * time.Second
	hotRepeat = 30 * time.Second
)

// hotKeys watches the feed for one partition key carrying most of a
// shard's load, the case a split cannot help: every record of a key goes
// to the one shard that owns its hash.
type hotKeys struct {
	start time.Time
	// load counts records and bytes by shard, then partition key.
	load map[string]map[string]*keyLoad
	said map[string]time.Time // by key, when it was last told
}

type keyLoad struct{ records, bytes int64 }

// observe counts the watched stream's records of one tick and, once a
// window is full, returns a sentence for each key found hot.
func (h *hotKeys) observe(recs []engine.TapRecord, stream string, now time.Time) []string {
	if h.load == nil {
		h.load, h.said, h.start = map[string]map[string]*keyLoad{}, map[string]time.Time{}, now
	}
	for i := range recs {
		r := &recs[i]
		if r.Stream != "" && r.Stream != stream {
			continue
		}
		keys := h.load[r.ShardID]
		if keys == nil {
			keys = map[string]*keyLoad{}
			h.load[r.ShardID] = keys
		}
		l := keys[r.PartitionKey]
		if l == nil {
			l = &keyLoad{}
			keys[r.PartitionKey] = l
		}
		l.records++
		l.bytes += int64(len(r.Data) + len(r.PartitionKey))
	}
	secs := now.Sub(h.start).Seconds()
	if secs < hotWindow.Seconds() {
		return nil
	}
	var out []string
	for shard, keys := range h.load {
		for key, l := range keys {
			recRate, byteRate := float64(l.records)/secs, float64(l.bytes)/secs
			share := max(recRate/engine.ShardWriteRecordsPerSec, byteRate/engine.ShardWriteBytesPerSec)
			if share < hotShare || now.Sub(h.said[key]) < hotRepeat {
				continue
			}
			h.said[key] = now
			figure := fmt.Sprintf("%s rec/s", commas(int64(recRate+0.5)))
			if byteRate/engine.ShardWriteBytesPerSec > recRate/engine.ShardWriteRecordsPerSec {
				figure = fmt.Sprintf("%.2f MB/s", byteRate/1e6)
			}
			out = append(out, fmt.Sprintf("hot key %q: %s = %.0f %% of one shard's write limit (%s) — a split cannot spread one key",
				clean(key, 40), figure, share*100, shortShard(shard)))
		}
	}
	h.load, h.start = map[string]map[string]*keyLoad{}, now
	return out
}
