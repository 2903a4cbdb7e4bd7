package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/consumers/deliver"
	"github.com/shardscope/shardscope/consumers/trigger"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers/agent"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
)

// Around is what the console runs around its streams from a --config
// file: Lambda-style triggers, Firehose-style deliveries and the Kinesis
// Agent's flows, in process against the engine, with their leases and
// checkpoints in the store. Their figures show in the consumers pane
// (triggers, deliveries) and the producers pane (the agent's flows).
type Around struct {
	triggers   []*trigger.Trigger
	deliveries []*delivery
	agent      *agent.Agent
	errs       chan error

	mu   sync.Mutex // guards rate
	rate map[string]flowRate
}

type delivery struct {
	app  *consumers.App
	d    *deliver.Deliverer
	dest deliver.Destination
}

// flowRate remembers an agent flow's sent count to measure its rate.
type flowRate struct {
	sent int64
	at   time.Time
	rate float64
}

// aroundConfig is the --config file.
type aroundConfig struct {
	// Triggers are as `shardscope trigger --config` takes them.
	Triggers []yaml.Node `yaml:"Triggers"`
	// Deliveries are as `shardscope deliver` takes its flags.
	Deliveries []deliveryConfig `yaml:"Deliveries"`
	// Agent is the path of an agent.json.
	Agent string `yaml:"Agent"`
}

type deliveryConfig struct {
	Name                    string `yaml:"Name"`
	Stream                  string `yaml:"Stream"`
	To                      string `yaml:"To"`
	From                    string `yaml:"From"`
	BufferSizeMiB           int    `yaml:"BufferSizeMiB"`
	BufferIntervalInSeconds *int   `yaml:"BufferIntervalInSeconds"`
	GZIP                    bool   `yaml:"GZIP"`
	NoDelimiter             bool   `yaml:"NoDelimiter"`
	Prefix                  string `yaml:"Prefix"`
	S3Endpoint              string `yaml:"S3Endpoint"`
	Table                   string `yaml:"Table"`
	Columns                 string `yaml:"Columns"`
}

// LoadAround reads a --config file and builds what it declares over the
// engine; stream is the console's stream, the default of a delivery's.
// Nothing runs until Start.
func LoadAround(ctx context.Context, path string, e *engine.Engine, db *storage.DB, stream string) (*Around, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg aroundConfig
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w (want Triggers, Deliveries and Agent)", path, err)
	}
	if len(cfg.Triggers) == 0 && len(cfg.Deliveries) == 0 && cfg.Agent == "" {
		return nil, fmt.Errorf("%s declares nothing: give Triggers, Deliveries or Agent", path)
	}
	a := &Around{rate: map[string]flowRate{}}
	leases, cps := consumers.NewMetaLeases(db), consumers.NewMetaCheckpoints(db)
	if len(cfg.Triggers) > 0 {
		doc, err := yaml.Marshal(map[string]any{"Triggers": cfg.Triggers})
		if err != nil {
			return nil, err
		}
		settings, err := trigger.ParseConfig(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range settings {
			dest, err := trigger.OpenDestination(s.OnFailure, e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			t, err := trigger.New(e, leases, cps, s, nil, dest)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			a.triggers = append(a.triggers, t)
		}
	}
	for i, dc := range cfg.Deliveries {
		d, err := newDelivery(ctx, dc, e, db, stream)
		if err != nil {
			a.closeDestinations()
			return nil, fmt.Errorf("%s: Deliveries[%d]: %w", path, i, err)
		}
		a.deliveries = append(a.deliveries, d)
	}
	if cfg.Agent != "" {
		p := cfg.Agent
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		acfg, err := agent.LoadConfig(p)
		if err == nil && acfg.CheckpointFile == "" {
			acfg.CheckpointFile = db.Path() + ".agent-checkpoints.json"
		}
		if err == nil {
			a.agent, err = agent.New(acfg, e, agent.Options{})
		}
		if err != nil {
			a.closeDestinations()
			return nil, fmt.Errorf("%s: Agent: %w", path, err)
		}
	}
	return a, nil
}

func newDelivery(ctx context.Context, dc deliveryConfig, e *engine.Engine, db *storage.DB, stream string) (*delivery, error) {
	if dc.Stream == "" {
		dc.Stream = stream
	}
	if dc.To == "" {
		return nil, errors.New("To is required (file:///DIR, s3://BUCKET/PREFIX or postgres://…)")
	}
	if dc.Name == "" {
		dc.Name = "deliver-" + dc.Stream
	}
	set := deliver.Settings{Name: dc.Name, BufferSizeMiB: dc.BufferSizeMiB, BufferInterval: deliver.DefaultBufferInterval,
		GZIP: dc.GZIP, NoDelimiter: dc.NoDelimiter, Prefix: dc.Prefix}
	if dc.BufferIntervalInSeconds != nil {
		set.BufferInterval = time.Duration(*dc.BufferIntervalInSeconds) * time.Second
	}
	start := engine.Latest
	switch dc.From {
	case "", "latest":
	case "trim-horizon":
		start = engine.TrimHorizon
	default:
		return nil, fmt.Errorf("From %q: latest or trim-horizon", dc.From)
	}
	dest, prefix, err := deliver.Open(ctx, dc.To, deliver.DestinationOptions{S3Endpoint: dc.S3Endpoint, Table: dc.Table, Columns: dc.Columns, App: dc.Name})
	if err != nil {
		return nil, err
	}
	if set.Prefix == "" {
		set.Prefix = prefix
	}
	cfg := consumers.Config{Leases: consumers.NewMetaLeases(db), StartPosition: start}
	app, d, err := deliver.NewApp(ctx, dc.Name, dc.Stream, set, dest, e, consumers.NewMetaCheckpoints(db), cfg)
	if err != nil {
		dest.Close()
		return nil, err
	}
	return &delivery{app: app, d: d, dest: dest}, nil
}

func (a *Around) closeDestinations() {
	for _, d := range a.deliveries {
		d.dest.Close()
	}
}

// Start runs everything until ctx ends; Wait waits for it.
func (a *Around) Start(ctx context.Context) {
	n := len(a.triggers) + len(a.deliveries)
	if a.agent != nil {
		n++
	}
	a.errs = make(chan error, n)
	for _, t := range a.triggers {
		go func() { a.errs <- t.Run(ctx) }()
	}
	for _, d := range a.deliveries {
		go func() { a.errs <- d.app.Run(ctx) }()
	}
	if a.agent != nil {
		go func() { a.errs <- a.agent.Run(ctx) }()
	}
}

// Wait waits, after ctx ended, for everything Start ran, and closes the
// destinations.
func (a *Around) Wait() error {
	if a.errs == nil {
		return nil
	}
	var all []error
	for range cap(a.errs) {
		if err := <-a.errs; err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	a.closeDestinations()
	return errors.Join(all...)
}

// views are the triggers, deliveries and agent flows for the around pane,
// in the order the file declares them.
func (a *Around) views() []ui.AroundView {
	if a == nil {
		return nil
	}
	return append(a.appViews(), a.agentViews()...)
}

// appViews are the triggers and deliveries.
func (a *Around) appViews() []ui.AroundView {
	var out []ui.AroundView
	for _, t := range a.triggers {
		st := t.Stats()
		tot := st.Total
		out = append(out, ui.AroundView{Kind: "trigger", Name: st.Name, Target: st.Function, LastError: tot.LastError,
			Figures: []string{fmt.Sprintf("%.1f inv/s · %s · %s · %s · IteratorAge %s · %d on failure",
				st.InvocationsPerSecond, count(tot.Records, "record"), count(tot.Errors, "error"),
				count(tot.Retries, "retry"), time.Duration(tot.IteratorAgeMillis)*time.Millisecond, tot.OnFailure)}})
	}
	for _, d := range a.deliveries {
		st := d.d.Stats()
		fill := 0.0
		if st.BufferSize > 0 {
			fill = 100 * float64(st.Buffered) / float64(st.BufferSize)
		}
		last := "never"
		if !st.LastDelivery.IsZero() {
			last = time.Since(st.LastDelivery).Round(time.Second).String() + " ago"
		}
		out = append(out, ui.AroundView{Kind: "delivery", Name: d.app.Name(), Target: st.Destination, LastError: st.LastError,
			Figures: []string{fmt.Sprintf("%s in %s · %s · buffer %.0f %% · last %s · %s",
				bytesText(st.Bytes), count(st.Objects, "object"), count(st.Rows, "row"), fill, last, count(st.Failures, "failure"))}})
	}
	return out
}

// agentViews are the agent's flows for the around pane.
func (a *Around) agentViews() []ui.AroundView {
	var out []ui.AroundView
	for _, p := range a.producers() {
		out = append(out, ui.AroundView{Kind: "agent", Name: p.Name, Target: p.Skew, LastError: p.LastError,
			Figures: []string{fmt.Sprintf("%s sent (%.0f/s) · %s · %s", commasInt(p.Sent), p.ActualRate, count(p.Retried, "resent record"), count(p.Errors, "failed call"))}})
	}
	return out
}

// apps are the consumer applications, with their live figures for the
// consumers pane (the same as the around pane's).
func (a *Around) apps() ([]*consumers.App, map[string][]string) {
	if a == nil {
		return nil, nil
	}
	var apps []*consumers.App
	for _, t := range a.triggers {
		apps = append(apps, t.App())
	}
	for _, d := range a.deliveries {
		apps = append(apps, d.app)
	}
	lines := map[string][]string{}
	for _, v := range a.appViews() {
		l := []string{v.Kind + " → " + v.Target + " · " + strings.Join(v.Figures, " · ")}
		if v.LastError != "" {
			l = append(l, "last error: "+v.LastError)
		}
		lines[v.Name] = l
	}
	return apps, lines
}

func commasInt(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// producers are the agent's flows as producers.
func (a *Around) producers() []ui.ProducerView {
	if a == nil || a.agent == nil {
		return nil
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []ui.ProducerView
	for _, st := range a.agent.Stats() {
		name := "agent " + filepath.Base(st.Pattern)
		r := a.rate[name]
		if !r.at.IsZero() && now.Sub(r.at) >= time.Second {
			r.rate = float64(st.Sent-r.sent) / now.Sub(r.at).Seconds()
			r.sent, r.at = st.Sent, now
		} else if r.at.IsZero() {
			r.sent, r.at = st.Sent, now
		}
		a.rate[name] = r
		out = append(out, ui.ProducerView{
			Name: name, On: true, ActualRate: r.rate,
			Skew: fmt.Sprintf("%s, %s behind", count(int64(st.Files), "file"), bytesText(st.BytesBehind)),
			Sent: st.Sent, Retried: st.Resent, Errors: st.CallErrors, LastError: st.LastError,
		})
	}
	return out
}

// app returns the application of that name, nil when there is none.
func (a *Around) app(name string) *consumers.App {
	if a == nil {
		return nil
	}
	for _, t := range a.triggers {
		if t.App().Name() == name {
			return t.App()
		}
	}
	for _, d := range a.deliveries {
		if d.app.Name() == name {
			return d.app
		}
	}
	return nil
}

// has reports whether name is an application of the config file.
func (a *Around) has(name string) bool { return a.app(name) != nil }

// isAgent reports whether name is one of the agent's flows.
func (a *Around) isAgent(name string) bool {
	return a != nil && a.agent != nil && strings.HasPrefix(name, "agent ")
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
