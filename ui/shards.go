package ui

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// Kinesis per-shard write limits, against which the write gauge is drawn.
const (
	shardBytesPerSec   = 1 << 20 // 1 MiB/s
	shardRecordsPerSec = 1000
)

// sparkSeconds is how much history the sparkline shows.
const sparkSeconds = 60

// colKind names a column of the shards table.
type colKind int

const (
	colMark colKind = iota
	colID
	colKeys
	colGauge
	colRead
	colThr
	colRecords
	colOldest
	colSpark
)

// column is one column of the shards table: its width never depends on
// the data, only on the pane's width.
type column struct {
	kind  colKind
	title string
	w     int
	right bool
}

// shardsPane lists the stream's shards: open ones in hash-key order (so the
// key-space bars form a staircase), then closed ones with their children.
type shardsPane struct {
	ctx    *Context
	w, h   int
	cols   []column
	gaugeW int  // cells of the write gauge's bar
	wideID bool // full 12-digit IDs
	cells  int  // sparkline cells, each an equal share of the last minute
	order  []int
	sel    string
	offset int

	scratch [][]float64 // sparkline values per row, reused across frames
}

func newShards(ctx *Context) *shardsPane { return &shardsPane{ctx: ctx} }

// SetSize lays out the columns for a box of w×h cells.
func (p *shardsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	cw := w - 4
	wide := cw >= 100
	p.wideID = wide
	p.gaugeW = 10
	idW, oldW, oldTitle := 7, 4, "age"
	if wide {
		p.gaugeW, idW, oldW, oldTitle = 12, 12, 9, "oldest"
	}
	cols := []column{
		{kind: colMark, w: 2},
		{kind: colID, title: "shard", w: idW},
		{kind: colKeys, title: "key space"},
		{kind: colGauge, title: "write vs limit", w: p.gaugeW + 9},
	}
	if wide {
		cols = append(cols, column{kind: colRead, title: "read", w: 9, right: true})
	}
	cols = append(cols,
		column{kind: colThr, title: "rej/s", w: 5, right: true},
		column{kind: colRecords, title: "records", w: 7, right: true},
		column{kind: colOldest, title: oldTitle, w: oldW, right: true},
		column{kind: colSpark},
	)
	rest := func() int {
		used := 0
		for i, c := range cols {
			used += c.w
			if i > 1 { // a gap before every column after the id
				used += 2
			}
		}
		return cw - used
	}
	// Narrow panes give up the least telling columns first.
	for _, k := range []colKind{colOldest, colRecords, colSpark} {
		if rest() >= 14 {
			break
		}
		for i := range cols {
			if cols[i].kind == k {
				cols = append(cols[:i], cols[i+1:]...)
				break
			}
		}
	}
	r := max(0, rest())
	kw, sw := r, 0
	for _, c := range cols {
		if c.kind == colSpark {
			kw = max(4, r*5/9)
			sw = min(sparkSeconds, r-kw)
			kw = min(64, r-sw)
		}
	}
	for i := range cols {
		switch cols[i].kind {
		case colKeys:
			cols[i].w = kw
		case colSpark:
			cols[i].w = sw
		}
	}
	p.cells = min(sw, sparkSeconds)
	for i := range cols {
		if cols[i].kind == colSpark {
			cols[i].title = strconv.Itoa(sparkSeconds) + " s"
		}
	}
	p.cols = cols
	p.clampOffset()
}

// HelpKeys returns the keys that act on the shards pane.
func (p *shardsPane) HelpKeys() []key.Binding {
	k := p.ctx.Keys
	return []key.Binding{withHelp(k.Up, "↑/↓", "select shard"), k.Split, k.Merge, k.RetentionUp, k.RetentionDown, k.TimeLapse, k.TimeLapseLong}
}

// Update reorders the rows on new data and moves the selection on keys.
func (p *shardsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		p.reorder()
	case tea.KeyMsg:
		k := p.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.move(-1)
		case key.Matches(msg, k.Down):
			p.move(1)
		case key.Matches(msg, k.PageUp):
			p.move(-p.visible())
		case key.Matches(msg, k.PageDown):
			p.move(p.visible())
		case key.Matches(msg, k.Top):
			p.move(-len(p.order))
		case key.Matches(msg, k.Bottom):
			p.move(len(p.order))
		}
	}
	return nil
}

func (p *shardsPane) shards() []engine.ShardSnapshot {
	if p.ctx.Stream == nil {
		return nil
	}
	return p.ctx.Stream.Shards
}

// reorder sorts open shards by starting hash key and closed ones by index,
// and keeps the selection on the same shard.
func (p *shardsPane) reorder() {
	sh := p.shards()
	p.order = p.order[:0]
	for i := range sh {
		p.order = append(p.order, i)
	}
	sort.SliceStable(p.order, func(a, b int) bool {
		x, y := &sh[p.order[a]], &sh[p.order[b]]
		if x.Open != y.Open {
			return x.Open
		}
		if x.Open {
			return x.HashKeyRange.Start.Cmp(y.HashKeyRange.Start) < 0
		}
		return x.Index < y.Index
	})
	if p.selIndex() < 0 && len(p.order) > 0 {
		p.sel = sh[p.order[0]].ShardID
	}
	p.clampOffset()
}

func (p *shardsPane) selIndex() int {
	sh := p.shards()
	for i, j := range p.order {
		if sh[j].ShardID == p.sel {
			return i
		}
	}
	return -1
}

func (p *shardsPane) move(d int) {
	if len(p.order) == 0 {
		return
	}
	i := max(0, min(len(p.order)-1, p.selIndex()+d))
	p.sel = p.shards()[p.order[i]].ShardID
	p.clampOffset()
}

func (p *shardsPane) visible() int { return max(1, p.h-3) }

func (p *shardsPane) clampOffset() {
	vis, i := p.visible(), max(0, p.selIndex())
	if i < p.offset {
		p.offset = i
	}
	if i >= p.offset+vis {
		p.offset = i - vis + 1
	}
	p.offset = max(0, min(p.offset, len(p.order)-vis))
}

// Selected returns the selected shard.
func (p *shardsPane) Selected() (engine.ShardSnapshot, bool) {
	i := p.selIndex()
	if i < 0 {
		return engine.ShardSnapshot{}, false
	}
	return p.shards()[p.order[i]], true
}

// errNoShard is what S and M say when nothing is selected.
var errNoShard = errors.New("no shard selected")

// mergePartner finds the open shard to merge the selected one with: its
// right-hand neighbour in key order (starting right after its end) or, at
// the end of the key space, its left-hand neighbour. The pair comes back
// in key order, as MergeShards wants it.
func (p *shardsPane) mergePartner() (shard, partner string, err error) {
	s, ok := p.Selected()
	if !ok {
		return "", "", errNoShard
	}
	if !s.Open {
		return "", "", fmt.Errorf("%s is closed: only open shards can merge", s.ShardID)
	}
	var left string
	for _, o := range p.shards() {
		if !o.Open || o.ShardID == s.ShardID {
			continue
		}
		if s.HashKeyRange.End.Cmp(engine.MaxHashKey) != 0 && o.HashKeyRange.Start == s.HashKeyRange.End.Add(1) {
			return s.ShardID, o.ShardID, nil
		}
		if o.HashKeyRange.End.Cmp(engine.MaxHashKey) != 0 && o.HashKeyRange.End.Add(1) == s.HashKeyRange.Start {
			left = o.ShardID
		}
	}
	if left != "" {
		return left, s.ShardID, nil
	}
	return "", "", fmt.Errorf("%s has no adjacent open shard to merge with", s.ShardID)
}

// View renders the table.
func (p *shardsPane) View() string {
	c, st := p.ctx, p.ctx.Styles
	title := "Shards"
	lines := make([]string, 0, p.h)
	sh := p.shards()
	if c.Stream == nil {
		lines := []string{st.Faint.S("no data yet")}
		if c.Ticks > 0 && len(c.StreamNames) == 0 {
			lines = p.emptyState()
		}
		return box(st, title, lines, p.w, p.h, c.Focus == paneShards)
	}
	vis := p.visible()
	if len(p.order) > vis {
		last := min(len(p.order), p.offset+vis)
		title += fmt.Sprintf(" %d–%d of %d", p.offset+1, last, len(p.order))
	}

	// column titles
	var b strings.Builder
	for i, col := range p.cols {
		if i > 1 {
			b.WriteString("  ")
		}
		if col.right {
			b.WriteString(fitRight(col.title, col.w))
		} else {
			b.WriteString(fit(col.title, col.w))
		}
	}
	lines = append(lines, st.Faint.S(b.String()))

	// Sparkline values first: every row shares one scale, so a hot shard
	// stands out against the others.
	end := min(len(p.order), p.offset+vis)
	rows := p.order[p.offset:end]
	for len(p.scratch) < len(rows) {
		p.scratch = append(p.scratch, nil)
	}
	top := 0.0
	for i, j := range rows {
		p.scratch[i] = p.sparkValues(p.scratch[i][:0], &sh[j])
		for _, v := range p.scratch[i] {
			top = math.Max(top, v)
		}
	}
	for i, j := range rows {
		lines = append(lines, p.row(&sh[j], p.scratch[i], top))
	}
	return box(st, title, lines, p.w, p.h, c.Focus == paneShards)
}

// sparkValues averages the last minute of records in into p.cells cells;
// cell c covers seconds [c·60/cells, (c+1)·60/cells) of the minute.
func (p *shardsPane) sparkValues(dst []float64, s *engine.ShardSnapshot) []float64 {
	if p.cells == 0 || !s.Open {
		return dst
	}
	h := s.History
	first := len(h) - sparkSeconds // may be negative: missing seconds count as 0
	for c := 0; c < p.cells; c++ {
		from, to := c*sparkSeconds/p.cells, (c+1)*sparkSeconds/p.cells
		sum := 0.0
		for k := from; k < to; k++ {
			if i := first + k; i >= 0 && i < len(h) {
				sum += float64(h[i].RecordsIn)
			}
		}
		dst = append(dst, sum/float64(max(1, to-from)))
	}
	return dst
}

// row renders one shard.
func (p *shardsPane) row(s *engine.ShardSnapshot, spk []float64, top float64) string {
	c, st := p.ctx, p.ctx.Styles
	selected := s.ShardID == p.sel
	dim := !s.Open
	var b strings.Builder
	b.Grow(p.w * 3)
	gap := func(i int) {
		if i > 1 {
			b.WriteString("  ")
		}
	}
	closedDone := false
	for i, col := range p.cols {
		switch col.kind {
		case colMark:
			if selected {
				b.WriteString(st.Accent.S("▸ "))
			} else {
				b.WriteString("  ")
			}
		case colID:
			id := shortShard(s.ShardID)
			if !p.wideID {
				id = tinyShard(s.ShardID, 6)
			}
			id = fit(id, col.w)
			switch {
			case dim:
				id = st.Faint.S(id)
			case selected:
				id = st.Bold.S(id)
			}
			b.WriteString(id)
		case colKeys:
			gap(i)
			bar := keyBar(s.HashKeyRange, col.w)
			if dim {
				bar = st.Faint.S(bar)
			}
			b.WriteString(bar)
		case colGauge, colRead, colThr:
			if dim {
				if closedDone {
					continue
				}
				closedDone = true
				gap(i)
				b.WriteString(st.Faint.S(fit(p.closedText(s), p.spanWidth(i))))
				continue
			}
			gap(i)
			switch col.kind {
			case colGauge:
				b.WriteString(p.gaugeCell(s))
			case colRead:
				// Shared and fan-out reads: everything read from the shard.
				b.WriteString(fitRight(mbps(s.Rate.BytesOut+s.FanOut.BytesOut, 1), col.w))
			case colThr:
				t := fitRight(count(s.Rate.WriteThrottled), col.w)
				if s.Rate.WriteThrottled > 0 {
					t = st.Warn.S(t)
				}
				b.WriteString(t)
			}
		case colRecords:
			gap(i)
			t := fitRight(count(s.Records), col.w)
			if dim {
				t = st.Faint.S(t)
			}
			b.WriteString(t)
		case colOldest:
			gap(i)
			a := "—"
			if s.Records > 0 && !s.Oldest.IsZero() {
				a = age(c.Snap.At.Sub(s.Oldest))
			}
			if col.w >= 9 && c.Stream != nil {
				a += "/" + retention(c.Stream.RetentionHours)
			}
			t := fitRight(a, col.w)
			if dim {
				t = st.Faint.S(t)
			}
			b.WriteString(t)
		case colSpark:
			gap(i)
			b.WriteString(spaces(col.w - len(spk)))
			if len(spk) > 0 {
				var sb strings.Builder
				spark(&sb, spk, top)
				b.WriteString(st.Accent.S(sb.String()))
			}
		}
	}
	return b.String()
}

// spanWidth is the width from column i through the throttle column, where
// a closed shard's lineage goes.
func (p *shardsPane) spanWidth(i int) int {
	w := 0
	for k := i; k < len(p.cols); k++ {
		switch p.cols[k].kind {
		case colGauge, colRead, colThr:
			if k > i {
				w += 2
			}
			w += p.cols[k].w
		}
	}
	return w
}

func (p *shardsPane) closedText(s *engine.ShardSnapshot) string {
	if len(s.Children) == 0 {
		return "CLOSED"
	}
	kids := make([]string, len(s.Children))
	for i, k := range s.Children {
		if p.wideID {
			kids[i] = shortShard(k)
		} else {
			kids[i] = tinyShard(k, 6)
		}
	}
	return "CLOSED → " + strings.Join(kids, ", ")
}

// gaugeCell draws the write load against whichever shard limit is nearer:
// "████▌       45% rec". The percentage and the unit say it in text; the
// colour only repeats it.
func (p *shardsPane) gaugeCell(s *engine.ShardSnapshot) string {
	recPct := float64(s.Rate.RecordsIn) / shardRecordsPerSec * 100
	mbPct := float64(s.Rate.BytesIn) / shardBytesPerSec * 100
	pct, unit := recPct, "rec"
	if mbPct > recPct {
		pct, unit = mbPct, "MB "
	}
	pctText := strconv.Itoa(int(math.Round(pct))) + "%"
	if pct >= 1000 {
		pctText = "999+"
	}
	return p.ctx.Styles.level(pct).S(gauge(pct, p.gaugeW) + " " + fitRight(pctText, 4) + " " + unit)
}

// emptyState says how to make a stream when there is none: the AWS CLI
// command against the console's own endpoint, with throwaway credentials,
// wrapped the way a shell takes it. It is emptyRows lines.
func (p *shardsPane) emptyState() []string {
	c, st := p.ctx, p.ctx.Styles
	cw := p.w - 4
	name := c.Preferred
	if name == "" {
		name = "orders"
	}
	if a := c.Attach; a != nil {
		// Attached: the console never creates a stream it does not run.
		lines := []string{st.Warn.S(cut("stream "+name+" is not at "+a.Where+" (or not visible to these credentials)", cw)),
			cut("  the header says what the service answered; it shows here as soon as it exists", cw)}
		for len(lines) < emptyRows-1 {
			lines = append(lines, "")
		}
		return append(lines, st.Faint.S(cut("attach never creates, deletes or changes a stream on its own", cw)))
	}
	url, tail := c.Endpoint, "it shows here as soon as it exists · w switches between streams"
	if url == "" {
		url, tail = "http://<address>", "the Kinesis API is not served: start shardscope with --listen 127.0.0.1:4567"
	}
	lines := []string{st.Warn.S("no streams yet — create one with the AWS CLI (any credentials will do):")}
	words := []string{
		"AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1",
		"aws kinesis create-stream --stream-name " + name + " --shard-count 2",
		"--endpoint-url " + url,
	}
	line := "  " + words[0]
	for _, w := range words[1:] {
		if width(line)+1+width(w)+2 <= cw {
			line += " " + w
			continue
		}
		lines = append(lines, st.Bold.S(line+" \\"))
		line = "    " + w
	}
	lines = append(lines, st.Bold.S(line))
	for len(lines) < emptyRows-1 {
		lines = append(lines, "")
	}
	return append(lines, st.Faint.S(cut(tail, cw)))
}
