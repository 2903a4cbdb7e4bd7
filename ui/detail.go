package ui

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// maxDetailBytes bounds how much of a record the detail view formats; a
// Kinesis record is at most 1 MiB, and a hex dump of that is 4 MB of text.
const maxDetailBytes = 64 << 10

// detailView shows one record in full: its metadata and its data as
// pretty-printed JSON, plain text, or a hex dump, in a scrolling viewport.
type detailView struct {
	ctx *Context
	rec engine.TapRecord
	// ahead is how far the engine's clock ran ahead of the console's when
	// the record arrived.
	ahead time.Duration
	vp    viewport.Model
	w, h  int
}

func newDetail(ctx *Context, rec engine.TapRecord, ahead time.Duration) *detailView {
	return &detailView{ctx: ctx, rec: rec, ahead: ahead, vp: viewport.New(1, 1)}
}

// SetSize sets the box size and re-wraps the content to the new width.
func (d *detailView) SetSize(w, h int) {
	d.w, d.h = w, h
	d.vp.Width, d.vp.Height = max(1, w-4), max(1, h-2)
	d.vp.SetContent(d.content(max(1, w-4)))
}

// HelpKeys returns the keys of the detail view.
func (d *detailView) HelpKeys() []key.Binding {
	k := d.ctx.Keys
	return []key.Binding{withHelp(k.Up, "↑/↓", "scroll"), k.PageUp, k.PageDown, k.Copy, withHelp(k.Close, "esc", "close record")}
}

// Update scrolls and copies.
func (d *detailView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	k := d.ctx.Keys
	switch {
	case key.Matches(km, k.Up):
		d.vp.LineUp(1)
	case key.Matches(km, k.Down):
		d.vp.LineDown(1)
	case key.Matches(km, k.PageUp):
		d.vp.PageUp()
	case key.Matches(km, k.PageDown):
		d.vp.PageDown()
	case key.Matches(km, k.Copy):
		return copyRecord(d.ctx.copy, d.rec)
	}
	return nil
}

// View renders the detail box.
func (d *detailView) View() string {
	title := "Record " + shortSeq(d.rec.SequenceNumber) + " · " + shortShard(d.rec.ShardID) +
		" · esc close · c copy · ↑↓ scroll"
	if d.vp.TotalLineCount() > d.vp.Height {
		title += " · " + strconv.Itoa(int(d.vp.ScrollPercent()*100)) + "%"
	}
	return box(d.ctx.Styles, title, strings.Split(d.vp.View(), "\n"), d.w, d.h, true)
}

// content formats the record for a given width.
func (d *detailView) content(w int) string {
	r := &d.rec
	var b strings.Builder
	field := func(name, value string) {
		b.WriteString(d.ctx.Styles.Faint.S(fit(name, 11)))
		b.WriteString(value)
		b.WriteByte('\n')
	}
	field("sequence", r.SequenceNumber)
	field("shard", r.ShardID+"   stream "+r.Stream)
	field("partition", clean(r.PartitionKey, 256))
	field("hash key", r.HashKey.String())
	field("position", strconv.FormatFloat(r.HashKey.Fraction()*100, 'f', 2, 64)+" % into the key space")
	explicit := "— (MD5 of the partition key)"
	if r.ExplicitHashKey != "" {
		explicit = r.ExplicitHashKey
	}
	field("explicit", explicit)
	arrived := r.ApproximateArrivalTimestamp.Format("2006-01-02 15:04:05.000 MST")
	if d.ahead > 0 {
		arrived += " by the engine's clock, " + lapse(d.ahead) + " ahead of yours (time-lapse)"
	}
	field("arrived", arrived)
	field("size", size(len(r.Data))+" data + "+size(len(r.PartitionKey))+" key = "+size(len(r.Data)+len(r.PartitionKey)))
	if users := kplUsers(r); len(users) > 0 {
		field("format", "KPL aggregate of "+plural(len(users), "user record")+" (as a KCL reader unpacks it)")
		d.writeKPL(&b, users, w)
	} else {
		body, kind := formatData(r.Data)
		field("format", kind)
		b.WriteString(d.ctx.Styles.Faint.S(repeat("─", w)))
		b.WriteByte('\n')
		b.WriteString(body)
	}
	// Wrap, never cut: a long value (hash key, JSON string) stays whole.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		if width(l) > w {
			lines[i] = ansi.Wrap(l, w, "")
		}
	}
	return strings.Join(lines, "\n")
}

// formatData renders record data for reading: indented JSON, plain text
// without control characters, or a hex dump when it is not UTF-8.
func formatData(data []byte) (body, kind string) {
	more := ""
	if len(data) > maxDetailBytes {
		more = "\n… " + commas(int64(len(data)-maxDetailBytes)) + " more bytes"
		cutAt := maxDetailBytes
		for cutAt > 0 && !utf8.RuneStart(data[cutAt]) {
			cutAt--
		}
		data = data[:cutAt]
	}
	if len(data) == 0 {
		return "(empty)", "empty"
	}
	if json.Valid(data) {
		var buf bytes.Buffer
		if json.Indent(&buf, data, "", "  ") == nil {
			return buf.String() + more, "JSON"
		}
	}
	if utf8.Valid(data) {
		var b strings.Builder
		for _, r := range string(data) {
			switch {
			case r == '\n':
				b.WriteByte('\n')
			case r == '\t':
				b.WriteString("    ")
			case unicode.IsControl(r):
			default:
				b.WriteRune(r)
			}
		}
		return b.String() + more, "text"
	}
	return strings.TrimRight(hex.Dump(data), "\n") + more, "binary (not UTF-8), hex dump"
}

// maxKPLShown bounds the user records the detail view formats; an
// aggregate of a 1 MiB record can hold thousands.
const maxKPLShown = 200

// kplUsers decodes a KPL aggregate into its user records as the KCL does;
// nil when the data is not one.
func kplUsers(r *engine.TapRecord) []consumers.UserRecord {
	if !consumers.IsAggregated(r.Data) {
		return nil
	}
	users, _ := consumers.Deaggregate([]engine.Record{r.Record}, nil)
	return users
}

// writeKPL lists an aggregate's user records: sub-sequence number,
// partition key, explicit hash key, size, whether the record's hash key
// falls in this shard's range (the KCL drops an aggregate with one that
// does not), and its data formatted as a plain record's would be.
func (d *detailView) writeKPL(b *strings.Builder, users []consumers.UserRecord, w int) {
	st := d.ctx.Styles
	var rng *engine.HashKeyRange
	if s := d.ctx.Stream; s != nil {
		for i := range s.Shards {
			if s.Shards[i].ShardID == d.rec.ShardID {
				rng = &s.Shards[i].HashKeyRange
			}
		}
	}
	outside := 0
	for i, u := range users {
		if i >= maxKPLShown {
			b.WriteString(st.Faint.S("… " + commas(int64(len(users)-maxKPLShown)) + " more user records"))
			b.WriteByte('\n')
			break
		}
		hk := engine.HashPartitionKey(u.PartitionKey)
		if h, ok := engine.ParseHashKey(u.ExplicitHashKey); ok && u.ExplicitHashKey != "" {
			hk = h
		}
		where := ""
		switch {
		case rng == nil:
		case rng.Contains(hk):
			where = st.OK.S("in this shard's range")
		default:
			outside++
			where = st.Danger.S("outside this shard's range: the KCL drops the aggregate")
		}
		b.WriteString(st.Faint.S(repeat("─", w)))
		b.WriteByte('\n')
		body, kind := formatData(u.Data)
		head := st.Bold.S("#"+strconv.FormatInt(u.SubSequenceNumber, 10)) + "  key " + clean(u.PartitionKey, 64) + "  " + size(len(u.Data)) + " " + kind
		if u.ExplicitHashKey != "" {
			head += "  explicit hash " + u.ExplicitHashKey
		}
		b.WriteString(head)
		b.WriteByte('\n')
		if where != "" {
			b.WriteString("    " + where)
			b.WriteByte('\n')
		}
		b.WriteString(body)
		b.WriteByte('\n')
	}
	if outside > 0 {
		b.WriteString(st.Danger.S("user records outside " + shortShard(d.rec.ShardID) + "'s range: " + commas(int64(outside)) + " of " + commas(int64(len(users))) + " — a KCL reader drops this whole record"))
	}
}
