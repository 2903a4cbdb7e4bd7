package ui

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// Kinesis per-shard read limits shared by polling (GetRecords) consumers;
// each enhanced fan-out consumer gets its own 2 MiB/s per shard instead.
const shardReadBytesPerSec = 2 << 20

// maxLeaseRows bounds the selected application's lease table.
const maxLeaseRows = 8

// shardEnd is the checkpoint of a shard read to its end.
const shardEnd = "SHARD_END"

// consumerEntry is one application in the consumers pane, or a stream
// consumer registered from outside the console (external), which has no
// workers here.
type consumerEntry struct {
	v        ConsumerView
	efo      *engine.ConsumerSnapshot // the registered consumer of a fan-out entry; nil when none
	external bool
}

func (e *consumerEntry) kind() string {
	if e.v.Kind == "" {
		return KindPolling
	}
	return e.v.Kind
}

// consumerRow is one selectable line: an application (worker "") or one
// of its workers.
type consumerRow struct{ app, worker string }

// consumersPane lists the watched stream's consumer applications: polling
// ones sharing each shard's read limits and fan-out ones with a pipe of
// their own; for each its lag, throughput and read throttling, its
// workers and the leases they hold, and a few lines of live results. The
// selected application also shows its lease table: owner, checkpoint and
// lag of every shard. ↑/↓ move over applications and their workers.
type consumersPane struct {
	ctx  *Context
	w, h int

	list []consumerEntry
	rows []consumerRow
	// The selection is by name, so it stays put when the list changes.
	selApp, selWorker string
	selRow            int // the selection's row, kept when its application goes
	// removing holds the applications a remove was asked for and that are
	// still listed, so a second A picks the next one, not the same again.
	removing map[string]bool
	offset   int // first line shown
}

func newConsumers(ctx *Context) *consumersPane { return &consumersPane{ctx: ctx} }

// SetSize sets the box size.
func (p *consumersPane) SetSize(w, h int) { p.w, p.h = w, h; p.clamp() }

// HelpKeys returns the keys that act on consumers.
func (p *consumersPane) HelpKeys() []key.Binding {
	k := p.ctx.Keys
	return []key.Binding{withHelp(k.Up, "↑/↓", "select app or worker"), k.AddPolling, k.RemovePolling, k.AddFanOut, k.RemoveFanOut, k.StopWorker}
}

// Update rebuilds the list on new data and moves the selection on keys.
func (p *consumersPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		p.refresh()
	case tea.KeyMsg:
		k := p.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.move(-1)
		case key.Matches(msg, k.Down):
			p.move(1)
		case key.Matches(msg, k.PageUp):
			p.move(-max(1, p.h-3))
		case key.Matches(msg, k.PageDown):
			p.move(max(1, p.h-3))
		case key.Matches(msg, k.Top):
			p.move(-len(p.rows))
		case key.Matches(msg, k.Bottom):
			p.move(len(p.rows))
		}
	}
	return nil
}

// refresh rebuilds the entries from the Context: the applications of the
// watched stream, then its registered consumers that no application owns.
func (p *consumersPane) refresh() {
	c := p.ctx
	p.list = p.list[:0]
	var regs []engine.ConsumerSnapshot
	if c.Stream != nil {
		regs = c.Stream.Consumers
	}
	claimed := make([]bool, len(regs))
	for _, v := range c.Consumers {
		if v.Stream != "" && v.Stream != c.StreamName {
			continue
		}
		e := consumerEntry{v: v}
		for i := range regs {
			if regs[i].Name == v.Name {
				claimed[i] = true
				if e.kind() == KindFanOut {
					e.efo = &regs[i]
				}
			}
		}
		p.list = append(p.list, e)
	}
	for i := range regs {
		if !claimed[i] {
			p.list = append(p.list, consumerEntry{v: ConsumerView{Name: regs[i].Name, Kind: KindFanOut}, efo: &regs[i], external: true})
		}
	}
	for name := range p.removing {
		if p.entry(name) == nil {
			delete(p.removing, name) // gone: the remove is done
		}
	}
	p.rows = p.rows[:0]
	for i := range p.list {
		e := &p.list[i]
		p.rows = append(p.rows, consumerRow{app: e.v.Name})
		for _, w := range e.v.Workers {
			p.rows = append(p.rows, consumerRow{app: e.v.Name, worker: w.ID})
		}
	}
	if i := p.rowIndex(); i >= 0 {
		p.selRow = i
	} else {
		switch {
		case p.entry(p.selApp) != nil:
			p.selWorker = ""
		case len(p.rows) > 0:
			// The selected application went: keep the selection's place.
			r := p.rows[min(p.selRow, len(p.rows)-1)]
			p.selApp, p.selWorker = r.app, ""
		default:
			p.selApp, p.selWorker = "", ""
		}
		p.selRow = max(0, p.rowIndex())
	}
	p.clamp()
}

func (p *consumersPane) rowIndex() int {
	for i, r := range p.rows {
		if r.app == p.selApp && r.worker == p.selWorker {
			return i
		}
	}
	return -1
}

func (p *consumersPane) entry(name string) *consumerEntry {
	for i := range p.list {
		if p.list[i].v.Name == name {
			return &p.list[i]
		}
	}
	return nil
}

func (p *consumersPane) move(d int) {
	if len(p.rows) == 0 {
		return
	}
	i := max(0, min(len(p.rows)-1, p.rowIndex()+d))
	p.selApp, p.selWorker = p.rows[i].app, p.rows[i].worker
	p.selRow = i
	p.clamp()
}

// Selected returns the selected application and, when a worker line is
// selected, that worker.
func (p *consumersPane) Selected() (*consumerEntry, *WorkerView) {
	e := p.entry(p.selApp)
	if e == nil {
		return nil, nil
	}
	for i := range e.v.Workers {
		if e.v.Workers[i].ID == p.selWorker {
			return e, &e.v.Workers[i]
		}
	}
	return e, nil
}

// pick chooses the consumer of a kind to remove: the one selected in the
// focused consumers pane when it is of that kind, otherwise the most
// recently added one (a, f). A built-in application, or a consumer
// registered from outside (some other program reads with it), goes only
// when selected that way.
func (p *consumersPane) pick(kind string) (string, bool) {
	if p.ctx.Focus == paneConsumers {
		if e, _ := p.Selected(); e != nil && e.kind() == kind {
			return e.v.Name, true
		}
	}
	for i := len(p.list) - 1; i >= 0; i-- {
		if e := &p.list[i]; e.kind() == kind && e.v.Added && !e.external && !p.removing[e.v.Name] {
			return e.v.Name, true
		}
	}
	return "", false
}

// markRemoving notes that a remove of name was asked for (on) or failed (off).
func (p *consumersPane) markRemoving(name string, on bool) {
	if p.removing == nil {
		p.removing = map[string]bool{}
	}
	if on {
		p.removing[name] = true
	} else {
		delete(p.removing, name)
	}
}

// has reports whether a consumer of the kind is listed.
func (p *consumersPane) has(kind string) bool {
	for i := range p.list {
		if p.list[i].kind() == kind {
			return true
		}
	}
	return false
}

// clamp scrolls so the selected line is on screen, with as much of its
// application below it as fits.
func (p *consumersPane) clamp() {
	lines, top, bottom := p.render(max(1, p.w-4))
	vis := max(1, p.h-2)
	if top < p.offset {
		p.offset = top
	}
	if bottom > p.offset+vis {
		p.offset = min(top, bottom-vis) // the top wins when it all cannot fit
	}
	p.offset = max(0, min(p.offset, len(lines)-vis))
}

// View renders the consumers box.
func (p *consumersPane) View() string {
	c, st := p.ctx, p.ctx.Styles
	lines, _, _ := p.render(p.w - 4)
	title := "Consumers"
	polling, fanout := 0, 0
	for i := range p.list {
		if p.list[i].kind() == KindFanOut {
			fanout++
		} else {
			polling++
		}
	}
	if len(p.list) > 0 {
		title += "  " + strconv.Itoa(polling) + " polling · " + strconv.Itoa(fanout) + " fan-out"
	}
	if len(lines) > p.offset+max(1, p.h-2) {
		title += " · ↓ more"
	}
	return box(st, title, lines[min(p.offset, len(lines)):], p.w, p.h, c.Focus == paneConsumers)
}

// render lays out every entry and returns the lines with the range
// [top, bottom) that the selection should keep on screen.
func (p *consumersPane) render(cw int) (lines []string, top, bottom int) {
	lines, top, bottom, _ = p.renderRows(cw)
	return lines, top, bottom
}

// renderRows is render that also says which selectable row each line
// belongs to (-1 for none), for mouse clicks.
func (p *consumersPane) renderRows(cw int) (lines []string, top, bottom int, rowOf []consumerRow) {
	st := p.ctx.Styles
	if len(p.list) == 0 {
		return []string{st.Faint.S("no consumer applications · a adds a polling one, f a fan-out one")}, 0, 1, nil
	}
	mark := func(r consumerRow) {
		for len(rowOf) < len(lines) {
			rowOf = append(rowOf, r)
		}
	}
	for i := range p.list {
		e := &p.list[i]
		start := len(lines)
		sel := e.v.Name == p.selApp
		lines = p.header(lines, e, cw, sel && p.selWorker == "")
		mark(consumerRow{app: e.v.Name})
		for j := range e.v.Workers {
			w := &e.v.Workers[j]
			on := sel && w.ID == p.selWorker
			if on {
				top, bottom = len(lines), len(lines)+1
			}
			lines = append(lines, p.worker(e, w, cw, on))
			mark(consumerRow{app: e.v.Name, worker: w.ID})
		}
		if sel {
			lines = p.leaseTable(lines, e, cw)
		}
		for j, s := range e.v.Summary {
			if j == 3 {
				break
			}
			lines = append(lines, "    "+cut(clean(s, cw), cw-4))
		}
		if sel && p.selWorker == "" {
			top, bottom = start, len(lines)
		}
		mark(consumerRow{app: e.v.Name})
	}
	return lines, top, bottom, rowOf
}

// clickLine selects the application or worker drawn on line row of the box.
func (p *consumersPane) clickLine(row int) {
	_, _, _, rowOf := p.renderRows(max(1, p.w-4))
	if i := p.offset + row; row >= 0 && i < len(rowOf) {
		p.selApp, p.selWorker = rowOf[i].app, rowOf[i].worker
		p.selRow = max(0, p.rowIndex())
		p.clamp()
	}
}

// header renders an application's first two lines:
//
//	▸ page-stats   polling  lag  120 ms   4/4 ✓
//	    shared 3.9/8.4 MB/s  thr 0/s  95.9k rec
func (p *consumersPane) header(lines []string, e *consumerEntry, cw int, selected bool) []string {
	c, st := p.ctx, p.ctx.Styles
	v := &e.v
	var b strings.Builder
	if selected {
		b.WriteString(st.Accent.S("▸ "))
	} else {
		b.WriteString("  ")
	}
	name := fit(v.Name, max(8, min(20, cw-33)))
	if selected {
		name = st.Bold.S(name)
	}
	b.WriteString(name)
	kind := fit(e.kind(), 7)
	if e.kind() == KindFanOut {
		kind = st.Accent.S(kind)
	}
	b.WriteString("  " + kind)
	if e.external {
		b.WriteString("  " + st.Faint.S("registered from outside"))
		lines = append(lines, b.String())
	} else {
		l := "lag " + fitRight(lag(v.Lag), 7)
		switch {
		case v.Lag >= 10*time.Second:
			l = st.Danger.S(l)
		case v.Lag >= 2*time.Second:
			l = st.Warn.S(l)
		}
		b.WriteString("  " + l)
		done := fitRight(strconv.Itoa(v.ShardsDone)+"/"+strconv.Itoa(v.Shards), 5)
		if v.Shards > 0 && v.ShardsDone == v.Shards {
			done += " " + st.OK.S("✓")
		}
		b.WriteString("  " + done)
		lines = append(lines, b.String())
	}

	var parts []string
	open := 0
	if c.Stream != nil {
		open = c.Stream.OpenShards
	}
	if e.kind() == KindFanOut {
		var t string
		if e.efo != nil {
			if e.efo.Status != engine.ConsumerActive && e.efo.Status != "" {
				t = string(e.efo.Status) + " · "
			}
			t += "dedicated " + mbps(e.efo.Rate.BytesOut, 1) + " · " + strconv.Itoa(e.efo.Subscriptions) + "/" + strconv.Itoa(open) + " subs"
		} else {
			t = "dedicated 2 MiB/s per shard"
		}
		parts = append(parts, t)
	} else {
		out := int64(0)
		if c.Stream != nil {
			out = c.Stream.Rate.BytesOut
		}
		parts = append(parts, "shared "+strconv.FormatFloat(float64(out)/1e6, 'f', 1, 64)+"/"+
			strconv.FormatFloat(float64(open)*shardReadBytesPerSec/1e6, 'f', 1, 64)+" MB/s")
	}
	if !e.external {
		// Throttling is what sharing costs polling readers: always say it.
		switch t := "thr " + count(v.ReadThrottled) + "/s"; {
		case v.ReadThrottled > 0:
			parts = append(parts, st.Warn.S(t))
		case e.kind() == KindPolling:
			parts = append(parts, t)
		}
		if v.Behind > 0 {
			b := count(v.Behind) + " behind"
			if v.Lag >= 2*time.Second {
				b = st.Warn.S(b)
			}
			parts = append(parts, b)
		}
		parts = append(parts, count(v.Records)+" rec")
		if v.Throttled > 0 {
			parts = append(parts, st.Warn.S(count(v.Throttled)+" thr in all"))
		}
	}
	// Narrow, the totals since the start go first: what is happening now
	// (throughput, throttling, records behind) stays.
	for len(parts) > 1 && width(strings.Join(parts, "  ")) > cw-4 {
		parts = parts[:len(parts)-1]
	}
	return append(lines, "    "+cut(strings.Join(parts, "  "), cw-4))
}

// worker renders one worker and the leases it holds:
//
//	▸ worker-1  …000 …001
func (p *consumersPane) worker(e *consumerEntry, w *WorkerView, cw int, selected bool) string {
	st := p.ctx.Styles
	idW := 0
	for _, o := range e.v.Workers {
		idW = max(idW, width(o.ID))
	}
	idW = min(idW, 14)
	var b strings.Builder
	b.WriteString("    ")
	if selected {
		b.WriteString(st.Accent.S("▸ "))
	} else {
		b.WriteString("  ")
	}
	id := fit(w.ID, idW)
	switch {
	case w.Stopped:
		id = st.Faint.S(id)
	case selected:
		id = st.Bold.S(id)
	}
	b.WriteString(id + "  ")
	room := cw - 6 - idW - 2
	switch {
	case w.Stopped:
		b.WriteString(st.Faint.S("stopped"))
	case len(w.Leases) == 0:
		b.WriteString(st.Faint.S("no leases"))
	default:
		ids := make([]string, len(w.Leases))
		for i, l := range w.Leases {
			ids[i] = tinyShard(l, 3)
		}
		t := strings.Join(ids, " ")
		if width(t) > room {
			t = strconv.Itoa(len(ids)) + " leases: " + t
		}
		b.WriteString(cut(t, room))
	}
	return b.String()
}

// leaseTable renders the selected application's shards: owner,
// checkpoint, lag and, for polling ones, the shard's read throttling
// (shared by every polling application):
//
//	shard owner    checkpoint      lag thr/s
//	…000  worker-1 …045382      120 ms     0
func (p *consumersPane) leaseTable(lines []string, e *consumerEntry, cw int) []string {
	c, st := p.ctx, p.ctx.Styles
	rows := e.v.PerShard
	if len(rows) == 0 {
		for id, d := range e.v.PerShardLag {
			rows = append(rows, ShardLagView{ShardID: id, Lag: d})
		}
		sort.Slice(rows, func(i, j int) bool { return rows[i].ShardID < rows[j].ShardID })
	}
	if len(rows) == 0 {
		return lines
	}
	polling := e.kind() == KindPolling
	thr := func(id string) string {
		if !polling || c.Stream == nil {
			return "—"
		}
		for i := range c.Stream.Shards {
			if s := &c.Stream.Shards[i]; s.ShardID == id {
				n := s.Rate.ReadThrottled
				if n > 0 {
					return st.Warn.S(count(n))
				}
				return "0"
			}
		}
		return "—"
	}
	ownW := 8
	for _, r := range rows {
		ownW = max(ownW, min(14, width(r.Owner)))
	}
	// The records behind get a column when there is room for it.
	wideTable := cw >= 4+5+1+ownW+1+12+1+6+1+5+7
	head := "    shard " + fit("owner", ownW) + " checkpoint      lag"
	if wideTable {
		head += " behind"
	}
	lines = append(lines, st.Faint.S(cut(head+" thr/s", cw)))
	slow := 0
	for i, r := range rows {
		if r.Lag > rows[slow].Lag {
			slow = i
		}
		if i >= maxLeaseRows {
			continue
		}
		own := fit(r.Owner, ownW)
		if r.Owner == "" {
			own = st.Faint.S(fit("free", ownW))
		}
		ck, l := r.Checkpoint, lag(r.Lag)
		switch {
		case ck == "":
			ck = "—"
		case ck == shardEnd:
			l = "done"
		case ck[0] >= '0' && ck[0] <= '9':
			ck = shortSeq(ck)
		}
		row := "    " + fit(tinyShard(r.ShardID, 3), 5) + " " + own + " " + fit(ck, 12) + " " + fitRight(l, 6)
		if wideTable {
			row += " " + fitRight(count(r.Behind), 6)
		}
		lines = append(lines, row+" "+fitRight(thr(r.ShardID), 5))
	}
	if n := len(rows) - maxLeaseRows; n > 0 {
		lines = append(lines, st.Faint.S(cut("    … "+strconv.Itoa(n)+" more · slowest "+
			tinyShard(rows[slow].ShardID, 3)+" "+lag(rows[slow].Lag), cw)))
	}
	return lines
}
