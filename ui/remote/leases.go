package remote

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/consumers/kcl"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/ui"
)

// EventLease is the kind of the events a lease table's moves make.
const EventLease engine.EventKind = "lease"

// leaseWatch is a KCL application's lease table as the console last read
// it; guarded by the Backend's mu.
type leaseWatch struct {
	poller   *kcl.Poller
	interval time.Duration
	view     kcl.View
	read     bool      // a read succeeded once
	at       time.Time // of the last successful read
	err      string    // the last read's error, "" when it worked
}

func newLeaseWatch(c *remote.Client, cfg Config) *leaseWatch {
	// The lease table is read with the credentials and region the stream
	// is read with.
	ko := c.Kinesis().Options()
	awsCfg := aws.Config{Region: ko.Region, Credentials: ko.Credentials, HTTPClient: ko.HTTPClient, RetryMaxAttempts: 1}
	interval := cfg.LeaseInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	return &leaseWatch{poller: kcl.NewPoller(kcl.NewClient(awsCfg, cfg.DynamoDBEndpoint), cfg.LeaseTable), interval: interval}
}

// leaseLoop reads the lease table every interval; failures are told once
// each time they change, and retried with backoff.
func (b *Backend) leaseLoop() {
	defer b.wg.Done()
	var w backoff
	for {
		wait := b.leases.interval
		if err := b.readLeases(); err != nil {
			wait = min(w.next(), wait)
		} else {
			w = backoff{}
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func (b *Backend) readLeases() error {
	b.mu.Lock()
	tips := make(map[string]kcl.ShardTip, len(b.states))
	for id, st := range b.states {
		if len(st.recent) > 0 {
			tips[id] = kcl.ShardTip{Recent: append([]kcl.Mark(nil), st.recent...)}
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	now := time.Now()
	view, moves, err := b.leases.poller.Poll(ctx, tips, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	lw := b.leases
	if err != nil {
		if b.ctx.Err() != nil {
			return err
		}
		text := err.Error()
		if name := kcl.ErrorName(err); name != "" {
			text = name + ": " + text
		}
		if text != lw.err {
			b.eventLocked(EventLease, "", "lease table %s: %s", b.cfg.LeaseTable, text)
		}
		lw.err = text
		return err
	}
	if lw.err != "" {
		b.eventLocked(EventLease, "", "lease table %s read again", b.cfg.LeaseTable)
	}
	lw.err, lw.view, lw.read, lw.at = "", view, true, now
	for _, m := range moves {
		b.eventLocked(EventLease, m.Key, "%s", moveSentence(m))
	}
	return nil
}

// moveSentence tells one lease move for the events pane.
func moveSentence(m kcl.Move) string {
	who := func(s string) string {
		if s == "" {
			return "nobody"
		}
		return s
	}
	switch m.Kind {
	case kcl.MoveCreated:
		return fmt.Sprintf("lease %s created (owner %s)", m.Key, who(m.To))
	case kcl.MoveRemoved:
		return fmt.Sprintf("lease %s removed", m.Key)
	case kcl.MoveEnded:
		return fmt.Sprintf("lease %s read to its end (SHARD_END)", m.Key)
	}
	return fmt.Sprintf("lease %s %s: %s → %s (leaseCounter %d → %d)", m.Key, m.Kind, who(m.From), who(m.To), m.CounterFrom, m.CounterTo)
}

// leaseViewLocked is the KCL application as a consumer of the consumers
// pane: its workers with their leases, each lease's checkpoint and its lag
// (from the records the console read), leases nobody holds.
func (b *Backend) leaseViewLocked() (ui.ConsumerView, bool) {
	lw := b.leases
	if lw == nil {
		return ui.ConsumerView{}, false
	}
	v := ui.ConsumerView{Name: "KCL " + b.cfg.LeaseTable, Stream: b.cfg.Stream, Kind: ui.KindPolling, PerShardLag: map[string]time.Duration{}}
	if !lw.read {
		line := "lease table " + b.cfg.LeaseTable + ": reading…"
		if lw.err != "" {
			line = "lease table " + b.cfg.LeaseTable + ": " + lw.err
		}
		v.Summary = []string{line}
		return v, true
	}
	atLeast := false
	for _, sv := range lw.view.Shards {
		l := sv.Lease
		v.Shards++
		if l.Ended() || sv.Lag.Known && sv.Lag.Records == 0 {
			v.ShardsDone++
		}
		if sv.Lag.Known {
			v.PerShardLag[l.Key] = sv.Lag.Time
			v.Lag = max(v.Lag, sv.Lag.Time)
			atLeast = atLeast || sv.Lag.AtLeast
		}
		v.Behind += int64(sv.Lag.Records)
		v.PerShard = append(v.PerShard, ui.ShardLagView{ShardID: l.Key, Lag: sv.Lag.Time, Behind: int64(sv.Lag.Records), Checkpoint: l.Checkpoint, Owner: l.Owner})
	}
	for _, w := range lw.view.Workers {
		v.Workers = append(v.Workers, ui.WorkerView{ID: w.ID, Leases: w.Shards})
	}
	sort.Slice(v.Workers, func(i, j int) bool { return v.Workers[i].ID < v.Workers[j].ID })
	line := fmt.Sprintf("lease table %s: %d workers · %d leases · %d unowned", b.cfg.LeaseTable, len(v.Workers), len(lw.view.Shards), len(lw.view.Unowned))
	if lw.err != "" {
		line += " · last read failed: " + lw.err
	}
	v.Summary = append(v.Summary, line)
	if atLeast {
		v.Summary = append(v.Summary, "lag ≥: some checkpoints are older than what the console has read")
	}
	return v, true
}
