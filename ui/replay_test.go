package ui

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// fakeReplay is the fake backend's shard store for replays: records by
// shard, read with iterators "shard@index"; it can refuse the next reads
// as throttled and refuses what the engine refuses.
type fakeReplay struct {
	mu       sync.Mutex
	recs     map[string][]engine.TapRecord
	throttle int // reads to refuse next
	expireAt int // a read at this position answers ExpiredIteratorException once; 0 never
	calls    []string
}

func (f *fakeBackend) replayer() *fakeReplay {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rp == nil {
		f.rp = &fakeReplay{recs: map[string][]engine.TapRecord{}}
	}
	return f.rp
}

func kerr(code engine.ErrorCode, msg string) error { return &engine.Error{Code: code, Message: msg} }

func (f *fakeBackend) ShardIterator(stream, shardID string, from engine.StartingPosition) (string, error) {
	r := f.replayer()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "iterator "+shardID+" "+string(from.Type)+" "+from.SequenceNumber)
	recs := r.recs[shardID]
	pos := 0
	switch from.Type {
	case engine.TrimHorizon:
	case engine.Latest:
		pos = len(recs)
	case engine.AtSequenceNumber, engine.AfterSequenceNumber:
		pos = -1
		for i, rec := range recs {
			if rec.SequenceNumber == from.SequenceNumber {
				pos = i
			}
		}
		if pos < 0 {
			return "", kerr(engine.InvalidArgumentException, "StartingSequenceNumber "+from.SequenceNumber+" used in GetShardIterator on shard "+shardID+" is invalid.")
		}
		if from.Type == engine.AfterSequenceNumber {
			pos++
		}
	case engine.AtTimestamp:
		if from.Timestamp.After(t0.Add(time.Minute)) {
			return "", kerr(engine.InvalidArgumentException, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis.")
		}
		pos = len(recs)
		for i, rec := range recs {
			if !rec.ApproximateArrivalTimestamp.Before(from.Timestamp) {
				pos = i
				break
			}
		}
	}
	return shardID + "@" + strconv.Itoa(pos), nil
}

func (f *fakeBackend) ReadShard(stream, shardID, iterator string, limit int) (ReplayPage, error) {
	r := f.replayer()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "read "+iterator)
	if r.throttle > 0 {
		r.throttle--
		return ReplayPage{}, kerr(engine.ProvisionedThroughputExceededException, "Rate exceeded for shard "+shardID)
	}
	id, at, _ := strings.Cut(iterator, "@")
	pos, _ := strconv.Atoi(at)
	if r.expireAt > 0 && pos == r.expireAt {
		r.expireAt = 0
		return ReplayPage{}, kerr(engine.ExpiredIteratorException, "Iterator expired.")
	}
	recs := r.recs[id]
	end := min(len(recs), pos+limit)
	p := ReplayPage{Records: append([]engine.TapRecord(nil), recs[pos:end]...), Next: id + "@" + strconv.Itoa(end)}
	if end < len(recs) {
		p.MillisBehind = 1000
	}
	if id == shardID2 && end == len(recs) {
		p.Next, p.Children = "", []string{"shardId-000000000004", "shardId-000000000005"}
	}
	return p, nil
}

var shardID2 = shardID(2) // the fake's closed shard

// replayRecords puts n records on a shard of the fake, one a second up to t0.
func replayRecords(f *fakeBackend, shard string, n int) []engine.TapRecord {
	r := f.replayer()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []engine.TapRecord
	for i := 0; i < n; i++ {
		out = append(out, engine.TapRecord{Stream: "demo", ShardID: shard, HashKey: engine.HashPartitionKey("k"),
			Record: engine.Record{SequenceNumber: fmt.Sprintf("4965%052d", i+1), PartitionKey: fmt.Sprintf("replay-%d", i),
				Data: []byte(fmt.Sprintf("old record %d", i)), ApproximateArrivalTimestamp: t0.Add(time.Duration(i-n) * time.Second)}})
	}
	r.recs[shard] = out
	return out
}

// replayTo opens the form on the selected shard, picks the type (steps
// down from TRIM_HORIZON), types value and presses enter.
func (h *harness) replayTo(steps int, value string) {
	h.t.Helper()
	h.press("i")
	for i := 0; i < steps; i++ {
		h.press("down")
	}
	if value != "" {
		h.typeText(value)
	}
	h.press("enter")
}

func TestReplayTrimHorizonFollowsPagesAndEscReturnsLive(t *testing.T) {
	h := newHarness(t, 120, 40)
	recs := replayRecords(h.fake, shardID(0), 1200)
	h.replayTo(0, "")
	f := h.m.feed
	if !f.Replaying() {
		t.Fatal("no replay after enter")
	}
	// The harness runs commands at once: the reads follow the pages (500,
	// 500, 200) and then poll on at the newest.
	if got := f.run.read; got != 1200 {
		t.Fatalf("read %d records, want 1200", got)
	}
	v := h.view()
	for _, want := range []string{"Replay 000000000000 from TRIM_HORIZON", "1,200 read", "at the newest", "replay-1199"} {
		if !strings.Contains(v, want) {
			t.Errorf("screen lacks %q:\n%s", want, v)
		}
	}
	// The live feed goes on underneath and does not show.
	h.fake.push(sampleRecords(3, t0.Add(time.Second))...)
	h.tick()
	if strings.Contains(h.view(), "api-gw-3") {
		t.Error("live records show during a replay")
	}
	// Scrolling up reaches the first replayed record of the ring.
	h.press("home") // the replay focused the feed
	if r, _ := f.selected(); r.SequenceNumber != recs[0].SequenceNumber {
		t.Errorf("home selected %s", r.SequenceNumber)
	}
	h.press("esc")
	if f.Replaying() || f.paused {
		t.Fatal("esc did not return to the live feed")
	}
	if !strings.Contains(h.view(), "● live") {
		t.Error("the live feed's title is not back")
	}
}

func TestReplayIteratorTypes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps int
		value string
		first string // partition key of the first record read, "" for none
		label string
	}{
		{"LATEST", 1, "", "", "from LATEST"},
		{"AT_SEQUENCE_NUMBER", 2, fmt.Sprintf("4965%052d", 5), "replay-4", "from AT_SEQUENCE_NUMBER …000005"},
		{"AFTER_SEQUENCE_NUMBER", 3, fmt.Sprintf("4965%052d", 5), "replay-5", "from AFTER_SEQUENCE_NUMBER …000005"},
		{"AT_TIMESTAMP relative", 4, "-3s", "replay-7", "from AT_TIMESTAMP 12:31:02 (-3s)"},
		{"AT_TIMESTAMP time of day", 4, "12:31:01", "replay-6", "from AT_TIMESTAMP 12:31:01"},
		{"AT_TIMESTAMP RFC 3339", 4, "2024-05-01T12:31:00Z", "replay-5", "from AT_TIMESTAMP 12:31:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 120, 40)
			replayRecords(h.fake, shardID(0), 10)
			h.replayTo(tc.steps, tc.value)
			f := h.m.feed
			if !f.Replaying() {
				t.Fatalf("no replay; form error %q", f.form.errText)
			}
			if tc.first == "" {
				if f.run.read != 0 {
					t.Errorf("LATEST read %d old records", f.run.read)
				}
			} else if got := f.run.recs.At(0).PartitionKey; got != tc.first {
				t.Errorf("first record %s, want %s", got, tc.first)
			}
			if v := h.view(); !strings.Contains(v, tc.label) {
				t.Errorf("title lacks %q:\n%s", tc.label, v)
			}
		})
	}
}

// TestReplayPrefillsTheSelectedRecord: AT/AFTER_SEQUENCE_NUMBER start
// with the sequence number of the record selected in the feed when it is
// of the shard, and a replay from the feed takes that record's shard.
func TestReplayPrefillsTheSelectedRecord(t *testing.T) {
	h := newHarness(t, 120, 40)
	recs := replayRecords(h.fake, shardID(1), 10)
	h.fake.push(recs[3])
	h.tick()
	h.press("tab", "up", "down") // the feed, paused on its newest record: recs[3]
	if r, _ := h.m.feed.selected(); r.SequenceNumber != recs[3].SequenceNumber {
		t.Fatalf("selected %s", r.SequenceNumber)
	}
	h.press("i", "down", "down")
	form := h.m.feed.form
	if form.shard() != shardID(1) || form.input.Value() != recs[3].SequenceNumber {
		t.Fatalf("form on %s with %q", form.shard(), form.input.Value())
	}
	// Another shard: the prefill goes, it was not of that shard.
	h.press("tab")
	if form.input.Value() != "" {
		t.Errorf("prefill %q kept on %s", form.input.Value(), form.shard())
	}
	h.press("shift+tab", "down", "enter")
	if r := h.m.feed.run; r == nil || r.recs.At(0).PartitionKey != "replay-4" {
		t.Fatalf("AFTER_SEQUENCE_NUMBER of the selected record did not start after it")
	}
}

// TestReplayBadInputChangesNothing: a refused iterator leaves the feed as
// it was, names the Kinesis error in the form and the events.
func TestReplayBadInputChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
		steps             int
	}{
		{"unknown sequence number", "4965123", "InvalidArgumentException", 2},
		{"timestamp in the future", "+10m", "InvalidArgumentException", 4},
		{"not a time", "yesterday", "is not a time", 4},
		{"no sequence number", "", "type a sequence number", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 120, 40)
			replayRecords(h.fake, shardID(0), 10)
			before := h.m.feed.n()
			h.replayTo(tc.steps, tc.value)
			f := h.m.feed
			if f.Replaying() {
				t.Fatal("a replay started")
			}
			if f.form == nil || !strings.Contains(f.form.errText, tc.want) {
				t.Fatalf("form error %+v, want %q", f.form, tc.want)
			}
			if !strings.Contains(h.view(), tc.want) {
				t.Errorf("screen lacks %q", tc.want)
			}
			h.press("esc")
			if f.form != nil || f.Replaying() || f.n() != before {
				t.Error("esc after a refusal left something changed")
			}
		})
	}
}

// TestReplayThrottledIsShownAndRetried: a refused read counts in the
// title and the events, and the replay reads on.
func TestReplayThrottledIsShownAndRetried(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID(0), 10)
	h.fake.replayer().throttle = 2
	h.replayTo(0, "")
	f := h.m.feed
	if f.run.throttled != 2 || f.run.read != 10 {
		t.Fatalf("throttled %d, read %d", f.run.throttled, f.run.read)
	}
	v := h.view()
	if !strings.Contains(v, "3 GetRecords calls, 2 throttled") || !strings.Contains(v, "replay read throttled") {
		t.Errorf("the throttling does not show:\n%s", v)
	}
}

// TestReplayShardEndOffersTheChildren: a closed shard's replay ends at
// SHARD_END naming its children, and i then opens the form on the first.
func TestReplayShardEndOffersTheChildren(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID2, 5)
	h.press("down", "down", "down", "down") // the closed shard is listed last
	if sh, _ := h.m.shards.Selected(); sh.ShardID != shardID2 {
		t.Fatalf("selected %s", sh.ShardID)
	}
	h.replayTo(0, "")
	f := h.m.feed
	if !f.run.end || f.run.read != 5 {
		t.Fatalf("end %v after %d records", f.run.end, f.run.read)
	}
	if v := h.view(); !strings.Contains(v, "SHARD_END → children 000000000004, 000000000005 (i: replay a child)") {
		t.Errorf("SHARD_END and the children do not show:\n%s", v)
	}
	h.press("i")
	if f.form == nil || f.form.shard() != shardID(4) {
		t.Fatalf("i after SHARD_END did not offer the first child")
	}
}

// TestReplayEscDropsLateAnswers: a page that answers after esc does not
// bring the replay back.
func TestReplayEscDropsLateAnswers(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID(0), 10)
	h.press("i")
	cmd := h.m.onReplayKeyForTest("enter")
	h.press("esc", "esc") // the form, then nothing
	h.run(cmd)
	if h.m.feed.Replaying() {
		t.Fatal("a late iterator started a replay after esc")
	}
}

// TestReplayGoldenForm is the form at 80×24 over the feed.
func TestReplayGoldenForm(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("i", "down", "down")
	golden(t, "replay_form_80x24", h.view())
}

// onReplayKeyForTest presses a key in the replay form and returns the
// command without running it.
func (m *Model) onReplayKeyForTest(k string) tea.Cmd { return m.onReplayKey(keyMsg(k)) }

// TestReplayGoldenFeed is a replay of a closed shard at 80×24, read to
// SHARD_END after a throttled read.
func TestReplayGoldenFeed(t *testing.T) {
	h := newHarness(t, 80, 24)
	replayRecords(h.fake, shardID2, 12)
	h.fake.replayer().throttle = 1
	h.press("down", "down", "down", "down")
	h.replayTo(4, "-8s")
	golden(t, "replay_80x24", h.view())
}

// TestReplayFilter: the feed's filter applies to a replay too, set
// before or during it.
func TestReplayFilter(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID(0), 30)
	h.press("/")
	h.typeText("re:replay-2[0-9]$")
	h.press("enter")
	h.replayTo(0, "")
	f := h.m.feed
	if f.n() != 10 || f.run.read != 30 {
		t.Fatalf("filtered replay shows %d of %d read", f.n(), f.run.read)
	}
	if v := h.view(); !strings.Contains(v, "filter: re:replay-2") || strings.Contains(v, "replay-19 ") {
		t.Errorf("the filter does not show in the replay:\n%s", v)
	}
	h.press("/", "enter") // an empty filter clears
	if f.n() != 30 {
		t.Errorf("cleared filter shows %d of 30", f.n())
	}
	h.press("/")
	h.typeText("replay-1")
	h.press("enter")
	if f.n() != 11 { // replay-1, replay-10..19
		t.Errorf("a filter set during the replay shows %d, want 11", f.n())
	}
}

// TestReplayRefusedFormKeepsTheReplay: opening the form during a replay
// and being refused (or cancelling) leaves the replay reading on.
func TestReplayRefusedFormKeepsTheReplay(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID(0), 10)
	h.replayTo(0, "")
	f := h.m.feed
	run := f.run
	h.replayTo(2, "4965123") // unknown: refused
	if f.form == nil || !strings.Contains(f.form.errText, "InvalidArgumentException") {
		t.Fatalf("not refused: %+v", f.form)
	}
	h.press("esc")
	if f.run != run {
		t.Fatal("a refused replay replaced the one under way")
	}
	// The replay's next page still counts.
	more := engine.TapRecord{ShardID: shardID(0), Record: engine.Record{SequenceNumber: "9", PartitionKey: "late", ApproximateArrivalTimestamp: t0}}
	h.send(replayPageMsg{gen: run.gen, page: ReplayPage{Records: []engine.TapRecord{more}, Next: "x@0"}})
	if run.read != 11 {
		t.Errorf("the replay's page after the refusal was dropped: %d read", run.read)
	}
	h.press("esc")
	if f.Replaying() {
		t.Fatal("esc did not leave the replay")
	}
	h.send(replayPageMsg{gen: run.gen, page: ReplayPage{Records: []engine.TapRecord{more}, Next: "x@0"}})
	if f.Replaying() || run.read != 11 {
		t.Error("a page after esc came through")
	}
}

// TestReplayExpiredIteratorResumes: an expired iterator is replaced by one
// after the last record read, and nothing is read twice or missed.
func TestReplayExpiredIteratorResumes(t *testing.T) {
	h := newHarness(t, 120, 40)
	replayRecords(h.fake, shardID(0), 1200)
	h.fake.replayer().expireAt = 500
	h.replayTo(0, "")
	r := h.m.feed.run
	if r.read != 1200 || r.errText != "" {
		t.Fatalf("read %d, error %q", r.read, r.errText)
	}
	for i := 0; i < r.recs.Len(); i++ {
		if want := fmt.Sprintf("replay-%d", i); r.recs.At(i).PartitionKey != want {
			t.Fatalf("record %d is %s", i, r.recs.At(i).PartitionKey)
		}
	}
	calls := strings.Join(h.fake.replayer().calls, "\n")
	if !strings.Contains(calls, "iterator "+shardID(0)+" AFTER_SEQUENCE_NUMBER "+fmt.Sprintf("4965%052d", 500)) {
		t.Errorf("no iterator after the last record read:\n%s", calls)
	}
}
