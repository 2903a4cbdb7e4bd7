package consumers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// The node side of the interop test: testdata/kpl pins aws-kinesis-agg
// and kpl.js aggregates or de-aggregates with it.

// nodeRecord is a record as kpl.js reads and writes it.
type nodeRecord struct {
	SequenceNumber    string `json:"sequenceNumber,omitempty"`
	SubSequenceNumber *int64 `json:"subSequenceNumber,omitempty"`
	PartitionKey      string `json:"partitionKey"`
	ExplicitHashKey   string `json:"explicitHashKey,omitempty"`
	Data              []byte `json:"data"` // base64 in JSON
}

type nodeRecords struct {
	Records []nodeRecord `json:"records"`
}

// nodeKPL copies testdata/kpl to a temporary directory and installs its
// pinned packages there. Without node or npm, or when the install fails,
// it skips the test, unless CI is "true": there it must run.
func nodeKPL(t *testing.T) string {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") == "true" {
		unavailable = t.Fatalf
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("%s not found: %v", tool, err)
		}
	}
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "kpl.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "kpl", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out []byte
	var err error
	for _, args := range [][]string{{"ci"}, {"install"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		cmd := exec.CommandContext(ctx, "npm", append(args, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		out, err = cmd.CombinedOutput()
		cancel()
		if err == nil {
			return dir
		}
	}
	unavailable("npm could not install aws-kinesis-agg: %v\n%s", err, out)
	return ""
}

// runNode runs kpl.js in mode with in as its input.
func runNode(t *testing.T, dir, mode string, in nodeRecords) []nodeRecord {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "kpl.js", mode)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node kpl.js %s: %v\n%s", mode, err, stderr.String())
	}
	var res nodeRecords
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("node kpl.js %s printed %q: %v", mode, out, err)
	}
	return res.Records
}

// interopRecords makes a deterministic list of user records: repeated,
// non-ASCII and long partition keys, explicit hash keys, binary and empty
// data, and (with big) records large enough to need several aggregates.
func interopRecords(n int, big_ bool) []producers.UserRecord {
	r := rand.New(rand.NewPCG(7, 11))
	keys := []string{"user-1", "user-2", "ключ-🔑", strings.Repeat("long-key-", 29)[:256], "sensor/α"}
	// Explicit hash keys of 2^32 and above: see kpl.js on small ones.
	ehk := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(12345)).String()
	ehk2 := new(big.Int).Lsh(big.NewInt(1), 127).String()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	var out []producers.UserRecord
	for i := range n {
		u := producers.UserRecord{PartitionKey: keys[i%len(keys)]}
		switch {
		case i%7 == 3:
			u.ExplicitHashKey = ehk
		case i%11 == 5:
			u.ExplicitHashKey = ehk2
		}
		switch {
		case i == 1:
			u.Data = []byte{}
		case i == 2:
			u.Data = all
		case big_ && i%5 == 0:
			u.Data = make([]byte, 150_000+r.IntN(100_000))
			for j := range u.Data {
				u.Data[j] = byte(r.Uint32())
			}
		default:
			u.Data = fmt.Appendf(nil, `{"i":%d,"v":%d}`, i, r.IntN(1_000_000))
		}
		out = append(out, u)
	}
	return out
}

// sameUsers compares user records with the list they came from. With
// anyEHK, a record without an explicit hash key may come back with one
// (aws-kinesis-agg's de-aggregator reports the table's first).
func sameUsers(t *testing.T, what string, got []nodeRecord, want []producers.UserRecord, anyEHK bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d user records, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		ehkOK := g.ExplicitHashKey == w.ExplicitHashKey || (anyEHK && w.ExplicitHashKey == "")
		if g.PartitionKey != w.PartitionKey || !ehkOK || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("%s: record %d: got (%q, %q, %d bytes), want (%q, %q, %d bytes)", what, i,
				g.PartitionKey, g.ExplicitHashKey, len(g.Data), w.PartitionKey, w.ExplicitHashKey, len(w.Data))
		}
	}
}

func TestKPLInteropWithNodeAggregator(t *testing.T) {
	dir := nodeKPL(t)
	const seq = "49590338271490256608559692538361571095921575989136588898"
	for _, tc := range []struct {
		name string
		recs []producers.UserRecord
	}{
		{"one aggregate", interopRecords(60, false)},
		{"several aggregates", interopRecords(40, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := nodeRecords{}
			for _, u := range tc.recs {
				in.Records = append(in.Records, nodeRecord{PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey, Data: u.Data})
			}

			// Node aggregates, Go de-aggregates.
			fromNode := runNode(t, dir, "aggregate", in)
			var containers []engine.Record
			for i, e := range fromNode {
				if len(e.Data)+len(e.PartitionKey) > engine.MaxRecordBytes {
					t.Errorf("node aggregate %d: %d bytes, over the record limit", i, len(e.Data)+len(e.PartitionKey))
				}
				containers = append(containers, engine.Record{SequenceNumber: fmt.Sprint(i + 1), Data: e.Data, PartitionKey: e.PartitionKey})
			}
			users, dropped := Deaggregate(containers, nil)
			var got []nodeRecord
			sub := map[string]int64{}
			for _, u := range users {
				if !u.Aggregated || u.SubSequenceNumber != sub[u.SequenceNumber] {
					t.Fatalf("Go de-aggregation of node's records: %s/%d aggregated %v, want sub-record %d", u.SequenceNumber, u.SubSequenceNumber, u.Aggregated, sub[u.SequenceNumber])
				}
				sub[u.SequenceNumber]++
				got = append(got, nodeRecord{PartitionKey: u.PartitionKey, ExplicitHashKey: u.ExplicitHashKey, Data: u.Data})
			}
			if dropped != 0 {
				t.Errorf("dropped %d aggregates", dropped)
			}
			sameUsers(t, "node → Go", got, tc.recs, false)

			// Go aggregates, node de-aggregates (a plain record passes too).
			entries, err := producers.Aggregate(tc.recs, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(fromNode) == 1 && len(entries) == 1 && !bytes.Equal(entries[0].Data, fromNode[0].Data) {
				t.Errorf("Go and node encode the same records differently:\n go   %x\n node %x", entries[0].Data, fromNode[0].Data)
			}
			var toNode nodeRecords
			for i, e := range entries {
				toNode.Records = append(toNode.Records, nodeRecord{SequenceNumber: fmt.Sprintf("%s%d", seq[:50], i), PartitionKey: e.PartitionKey, Data: e.Data})
			}
			toNode.Records = append(toNode.Records, nodeRecord{SequenceNumber: seq, PartitionKey: "plain", Data: []byte("not aggregated")})
			back := runNode(t, dir, "deaggregate", toNode)
			if len(back) == 0 {
				t.Fatal("node returned nothing")
			}
			plain := back[len(back)-1]
			if plain.SequenceNumber != seq || plain.SubSequenceNumber != nil || string(plain.Data) != "not aggregated" || plain.PartitionKey != "plain" {
				t.Errorf("node passed the plain record as %+v", plain)
			}
			back = back[:len(back)-1]
			sub = map[string]int64{}
			for i, u := range back {
				if u.SubSequenceNumber == nil || *u.SubSequenceNumber != sub[u.SequenceNumber] {
					t.Fatalf("node de-aggregation of Go's records: record %d is %s/%v, want sub-record %d", i, u.SequenceNumber, u.SubSequenceNumber, sub[u.SequenceNumber])
				}
				sub[u.SequenceNumber]++
			}
			if len(sub) != len(entries) {
				t.Errorf("node saw %d aggregates, Go made %d", len(sub), len(entries))
			}
			sameUsers(t, "Go → node", back, tc.recs, true)
		})
	}
}
