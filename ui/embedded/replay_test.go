package embedded

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/ui"
)

const shard0 = "shardId-000000000000"

// readAll replays a shard from a position with the backend to its newest
// record (or SHARD_END), as the console does, and returns what it read.
func readAll(t *testing.T, b *Backend, shard string, from engine.StartingPosition) ([]engine.TapRecord, ui.ReplayPage) {
	t.Helper()
	it, err := b.ShardIterator("demo", shard, from)
	if err != nil {
		t.Fatalf("%s: %v", from.Type, err)
	}
	var all []engine.TapRecord
	for {
		p, err := b.ReadShard("demo", shard, it, 500)
		if engine.IsCode(err, engine.ProvisionedThroughputExceededException) {
			time.Sleep(200 * time.Millisecond) // a reader backs off
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Records...)
		if p.Next == "" || (p.MillisBehind == 0 && len(p.Records) == 0) {
			return all, p
		}
		it = p.Next
	}
}

// TestReplayIteratorTypes reads a real shard from each of the five
// iterator types.
func TestReplayIteratorTypes(t *testing.T) {
	env := newEnv(t, 1)
	b := env.backend(nil, nil)
	env.put(3, "early")
	seqs := func(recs []engine.TapRecord) []string {
		var s []string
		for _, r := range recs {
			s = append(s, r.SequenceNumber)
		}
		return s
	}
	first, _ := readAll(t, b, shard0, engine.StartingPosition{Type: engine.TrimHorizon})
	if len(first) != 3 || first[0].ShardID != shard0 || first[0].Stream != "demo" || first[0].HashKey != engine.HashPartitionKey("early") {
		t.Fatalf("TRIM_HORIZON read %+v", first)
	}
	t1 := env.clock.Now()
	waitFor(t, "the clock to move on", time.Second, func() bool { return env.clock.Now().Sub(t1) >= 3*time.Millisecond })
	cut := env.clock.Now()
	waitFor(t, "the clock to move on", time.Second, func() bool { return env.clock.Now().Sub(cut) >= 3*time.Millisecond })
	latest, err := b.ShardIterator("demo", shard0, engine.StartingPosition{Type: engine.Latest})
	if err != nil {
		t.Fatal(err)
	}
	env.put(3, "late")

	all, _ := readAll(t, b, shard0, engine.StartingPosition{Type: engine.TrimHorizon})
	if len(all) != 6 {
		t.Fatalf("TRIM_HORIZON read %d records, want 6", len(all))
	}
	p, err := b.ReadShard("demo", shard0, latest, 500)
	if err != nil || len(p.Records) != 3 || p.Records[0].PartitionKey != "late" {
		t.Fatalf("LATEST read %+v, %v", p.Records, err)
	}
	at, _ := readAll(t, b, shard0, engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: all[2].SequenceNumber})
	if got := seqs(at); len(got) != 4 || got[0] != all[2].SequenceNumber {
		t.Errorf("AT_SEQUENCE_NUMBER read %v", got)
	}
	after, _ := readAll(t, b, shard0, engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: all[2].SequenceNumber})
	if got := seqs(after); len(got) != 3 || got[0] != all[3].SequenceNumber {
		t.Errorf("AFTER_SEQUENCE_NUMBER read %v", got)
	}
	ts, _ := readAll(t, b, shard0, engine.StartingPosition{Type: engine.AtTimestamp, Timestamp: cut})
	if len(ts) != 3 || ts[0].PartitionKey != "late" {
		t.Errorf("AT_TIMESTAMP read %d records from %q", len(ts), ts[0].PartitionKey)
	}
}

// TestReplayShardEnd reads a split parent to SHARD_END and gets its
// children.
func TestReplayShardEnd(t *testing.T) {
	env := newEnv(t, 1)
	b := env.backend(nil, nil)
	env.put(4, "k")
	if _, err := b.SplitShard("demo", shard0); err != nil {
		t.Fatal(err)
	}
	recs, last := readAll(t, b, shard0, engine.StartingPosition{Type: engine.TrimHorizon})
	if len(recs) != 4 || last.Next != "" || len(last.Children) != 2 {
		t.Fatalf("read %d records, next %q, children %v", len(recs), last.Next, last.Children)
	}
}

// TestReplayThrottled: the replay's reads count against the shard's 5
// reads/s like any reader's; the sixth quick one is refused.
func TestReplayThrottled(t *testing.T) {
	env := newEnv(t, 1)
	b := env.backend(nil, nil)
	env.put(1, "k")
	it, err := b.ShardIterator("demo", shard0, engine.StartingPosition{Type: engine.TrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	throttled := false
	for i := 0; i < 20 && !throttled; i++ {
		p, err := b.ReadShard("demo", shard0, it, 1)
		switch {
		case engine.IsCode(err, engine.ProvisionedThroughputExceededException):
			throttled = true
		case err != nil:
			t.Fatal(err)
		default:
			it = p.Next
		}
	}
	if !throttled {
		t.Fatal("20 quick reads of one shard were never throttled")
	}
}

// TestReplayBadInput: what the engine refuses comes back with its Kinesis
// error name.
func TestReplayBadInput(t *testing.T) {
	env := newEnv(t, 2)
	b := env.backend(nil, nil)
	env.put(3, "k")
	full, other := shard0, "shardId-000000000001"
	all, _ := readAll(t, b, full, engine.StartingPosition{Type: engine.TrimHorizon})
	if len(all) == 0 {
		full, other = other, full
		all, _ = readAll(t, b, full, engine.StartingPosition{Type: engine.TrimHorizon})
	}
	for _, tc := range []struct {
		name  string
		shard string
		from  engine.StartingPosition
		want  string
	}{
		{"unknown sequence number", full, engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: "49999999999999999999999999999999999999999999999999999999"}, "InvalidArgumentException"},
		{"another shard's sequence number", other, engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: all[0].SequenceNumber}, "InvalidArgumentException"},
		{"timestamp in the future", shard0, engine.StartingPosition{Type: engine.AtTimestamp, Timestamp: env.clock.Now().Add(time.Hour)}, "InvalidArgumentException"},
		{"not a number", shard0, engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: "abc"}, "ValidationException"},
	} {
		_, err := b.ShardIterator("demo", tc.shard, tc.from)
		if !strings.HasPrefix(errText(err), tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// A trimmed record's sequence number is no error, as on the service:
	// the iterator reads on from there and the trimmed records are gone.
	if _, err := b.TimeLapse(25 * time.Hour); err != nil {
		t.Fatal(err)
	}
	it, err := b.ShardIterator("demo", full, engine.StartingPosition{Type: engine.AtSequenceNumber, SequenceNumber: all[0].SequenceNumber})
	if err != nil {
		t.Fatalf("trimmed sequence number: %v", err)
	}
	if p, err := b.ReadShard("demo", full, it, 10); err != nil || len(p.Records) != 0 {
		t.Errorf("trimmed records came back: %d, %v", len(p.Records), err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// driver runs a console Model on the backend the way Bubble Tea would,
// synchronously (no tick: the replay reads until it caught up).
type driver struct {
	t *testing.T
	m tea.Model
}

func (d *driver) send(msg tea.Msg) {
	m, cmd := d.m.Update(msg)
	d.m = m
	d.run(cmd)
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
	default:
		d.send(msg)
	}
}

func (d *driver) keys(s ...string) {
	for _, k := range s {
		switch k {
		case "enter":
			d.send(tea.KeyMsg{Type: tea.KeyEnter})
		case "down":
			d.send(tea.KeyMsg{Type: tea.KeyDown})
		case "esc":
			d.send(tea.KeyMsg{Type: tea.KeyEsc})
		default:
			for _, r := range k {
				d.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			}
		}
	}
}

// TestReplayConsoleAfterTimeLapse replays through the console on a real
// engine whose clock a time-lapse moved an hour ahead: -10m (the
// engine's clock) finds none of the records written before, -2h all, and
// a refused timestamp leaves the live feed.
func TestReplayConsoleAfterTimeLapse(t *testing.T) {
	env := newEnv(t, 1)
	b := env.backend(nil, nil)
	env.put(5, "before")
	if _, err := b.TimeLapse(time.Hour); err != nil {
		t.Fatal(err)
	}
	d := &driver{t: t, m: ui.New(b, ui.Options{Stream: "demo"})}
	d.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	d.run(d.m.Init())
	view := func() string { return d.m.View() }

	d.keys("i", "down", "down", "down", "down", "-10m", "enter")
	if v := view(); !strings.Contains(v, "Replay 000000000000 from AT_TIMESTAMP") || !strings.Contains(v, "0 read") || !strings.Contains(v, "(-10m)") {
		t.Fatalf("-10m on the engine's clock:\n%s", v)
	}
	d.keys("esc", "i", "down", "down", "down", "down", "-2h", "enter")
	if v := view(); !strings.Contains(v, "5 read") || !strings.Contains(v, "engine ") {
		t.Fatalf("-2h on the engine's clock:\n%s", v)
	}
	d.keys("esc", "i", "down", "down", "down", "down", "+1m", "enter")
	if v := view(); !strings.Contains(v, "InvalidArgumentException") || strings.Contains(v, "Replay 000000000000 from") {
		t.Fatalf("a timestamp in the future:\n%s", v)
	}
	d.keys("esc")
	if v := view(); !strings.Contains(v, "● live") {
		t.Fatalf("not back to the live feed:\n%s", v)
	}
}
