package kcl

import (
	"reflect"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tips := map[string]ShardTip{
		"s1": {Recent: []Mark{{"100", at(1)}, {"200", at(2)}, {"300", at(3)}, {"400", at(4)}}},
		"s2": {Recent: []Mark{{"500", at(5)}, {"600", at(6)}}},
		"s3": {Recent: []Mark{{"700", at(7)}}},
	}
	leases := []Lease{
		{Key: "s1", ShardID: "s1", Owner: "w1", Checkpoint: "200"},          // 2 behind, oldest waiting at 3s
		{Key: "s2", ShardID: "s2", Owner: "w1", Checkpoint: "50"},           // older than the window
		{Key: "s3", ShardID: "s3", Owner: "w2", Checkpoint: "700"},          // caught up
		{Key: "s4", ShardID: "s4", Checkpoint: "TRIM_HORIZON"},              // unowned, nothing seen
		{Key: "s5", ShardID: "s5", Checkpoint: "SHARD_END"},                 // finished
		{Key: "s6", ShardID: "s6", Owner: "w2", Checkpoint: "LATEST"},       // nothing processed yet
		{Key: "s7", ShardID: "s1", Owner: "w3", Checkpoint: "TRIM_HORIZON"}, // all of s1 waiting
	}
	now := at(10)
	v := Summarize(leases, tips, now)
	wantLag := map[string]Lag{
		"s1": {Known: true, Records: 2, Time: 7 * time.Second},
		"s2": {Known: true, Records: 2, Time: 5 * time.Second, AtLeast: true},
		"s3": {Known: true},
		"s4": {},
		"s5": {Known: true},
		"s6": {},
		"s7": {Known: true, Records: 4, Time: 9 * time.Second, AtLeast: true},
	}
	for _, sv := range v.Shards {
		if sv.Lag != wantLag[sv.Lease.Key] {
			t.Errorf("lag of %s: got %+v, want %+v", sv.Lease.Key, sv.Lag, wantLag[sv.Lease.Key])
		}
	}
	wantWorkers := []WorkerView{
		{ID: "w1", Shards: []string{"s1", "s2"}, Records: 4, AtLeast: true},
		{ID: "w2", Shards: []string{"s3", "s6"}},
		{ID: "w3", Shards: []string{"s7"}, Records: 4, AtLeast: true},
	}
	if !reflect.DeepEqual(v.Workers, wantWorkers) {
		t.Errorf("workers:\n got %+v\nwant %+v", v.Workers, wantWorkers)
	}
	if !reflect.DeepEqual(v.Unowned, []string{"s4"}) {
		t.Errorf("unowned: got %v, want [s4]", v.Unowned)
	}
}

func TestMoves(t *testing.T) {
	prev := []Lease{
		{Key: "a", Owner: "w1", Counter: 5},
		{Key: "b", Owner: "w1", Counter: 5},
		{Key: "c", Counter: 2},
		{Key: "d", Owner: "w2", Counter: 9},
		{Key: "e", Owner: "w2", Counter: 3, OwnerSwitchesSinceCheckpoint: 1},
		{Key: "f", Owner: "w2", Counter: 3, Checkpoint: "1"},
		{Key: "g", Owner: "w2", Counter: 3},
		{Key: "h", Owner: "w1", Counter: 4},
	}
	cur := []Lease{
		{Key: "a", Owner: "w1", Counter: 7},                                  // renewed: no move
		{Key: "b", Owner: "w2", Counter: 6, OwnerSwitchesSinceCheckpoint: 1}, // stolen
		{Key: "c", Owner: "w3", Counter: 3},                                  // taken
		{Key: "d", Counter: 10},                                              // released
		{Key: "e", Owner: "w2", Counter: 6, OwnerSwitchesSinceCheckpoint: 3}, // away and back
		{Key: "f", Owner: "w2", Counter: 4, Checkpoint: "SHARD_END"},         // ended
		{Key: "g", Owner: "w2", Counter: 0},                                  // recreated
		{Key: "i", Counter: 0},                                               // new
	}
	want := []Move{
		{Key: "b", Kind: MoveOwnerChanged, From: "w1", To: "w2", CounterFrom: 5, CounterTo: 6},
		{Key: "c", Kind: MoveTaken, To: "w3", CounterFrom: 2, CounterTo: 3},
		{Key: "d", Kind: MoveReleased, From: "w2", CounterFrom: 9, CounterTo: 10},
		{Key: "e", Kind: MoveBounced, From: "w2", To: "w2", CounterFrom: 3, CounterTo: 6},
		{Key: "f", Kind: MoveEnded, From: "w2", To: "w2", CounterFrom: 3, CounterTo: 4},
		{Key: "g", Kind: MoveReset, From: "w2", To: "w2", CounterFrom: 3},
		{Key: "h", Kind: MoveRemoved, From: "w1", CounterFrom: 4},
		{Key: "i", Kind: MoveCreated},
	}
	if got := Moves(prev, cur); !reflect.DeepEqual(got, want) {
		t.Errorf("Moves:\n got %+v\nwant %+v", got, want)
	}
}
