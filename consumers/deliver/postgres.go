package deliver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shardscope/shardscope/consumers"
)

// checkpointTable keeps, per delivery app and shard, the last record a
// PostgreSQL destination loaded; it moves in the transaction that loads.
const checkpointTable = "shardscope_delivery_checkpoints"

// defaultColumns is the mapping used when none is given: the record's
// metadata and its data as jsonb, in a table created if missing.
const defaultColumns = "shard_id=$shardId,sequence_number=$sequenceNumber,sub_sequence_number=$subSequenceNumber,partition_key=$partitionKey,arrival=$arrival,data=$record"

// Postgres loads batches into a table with COPY (Redshift speaks the same
// protocol), exactly once: the rows and the shard's checkpoint row commit
// together, and records at or before that row are skipped.
type Postgres struct {
	pool    *pgxpool.Pool
	table   pgx.Identifier
	columns []column
	app     string
	dsn     string
	copySQL string
}

// column is one table column and where its value comes from: a $name of
// the record's metadata ($shardId, $sequenceNumber, $subSequenceNumber,
// $partitionKey, $arrival, $data for the text, $record for the data as
// JSON) or a dotted path into the record's JSON object.
type column struct {
	name   string
	source string
}

// NewPostgres connects to dsn and prepares the checkpoint table. o.Table
// names the table (schema.table allowed); o.Columns maps columns, as
// "col=source,…"; without it the table is created when missing with the
// record's metadata and a jsonb data column.
func NewPostgres(ctx context.Context, dsn string, o DestinationOptions) (*Postgres, error) {
	if o.Table == "" {
		return nil, errors.New("a PostgreSQL destination needs --table NAME")
	}
	if o.App == "" {
		return nil, errors.New("a PostgreSQL destination needs an application name for its checkpoints")
	}
	spec := o.Columns
	if spec == "" {
		spec = defaultColumns
	}
	cols, err := parseColumns(spec)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL URL: %w", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &Postgres{pool: pool, table: pgx.Identifier(strings.Split(o.Table, ".")), columns: cols, app: o.App, dsn: redact(cfg)}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = pgx.Identifier{c.name}.Sanitize()
	}
	p.copySQL = fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT csv)", p.table.Sanitize(), strings.Join(names, ", "))
	if err := p.prepare(ctx, o.Columns == ""); err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

// redact names the server without the password, for the console.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// prepare creates the checkpoint table and, for the default mapping, the
// data table. The server may not be up yet: then the first delivery does
// it (deliveries retry).
func (p *Postgres) prepare(ctx context.Context, createData bool) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := p.pool.Exec(cctx, `CREATE TABLE IF NOT EXISTS `+checkpointTable+` (
		app text NOT NULL, stream text NOT NULL, shard_id text NOT NULL,
		sequence_number numeric NOT NULL, sub_sequence_number bigint NOT NULL,
		updated timestamptz NOT NULL DEFAULT now(),
		PRIMARY KEY (app, stream, shard_id))`)
	if err == nil && createData {
		_, err = p.pool.Exec(cctx, `CREATE TABLE IF NOT EXISTS `+p.table.Sanitize()+` (
			shard_id text NOT NULL, sequence_number numeric NOT NULL, sub_sequence_number bigint NOT NULL,
			partition_key text NOT NULL, arrival timestamptz NOT NULL, data jsonb,
			PRIMARY KEY (shard_id, sequence_number, sub_sequence_number))`)
	}
	if err != nil {
		return fmt.Errorf("prepare PostgreSQL tables: %w", err)
	}
	return nil
}

func parseColumns(spec string) ([]column, error) {
	var cols []column
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ",") {
		name, source, ok := strings.Cut(strings.TrimSpace(part), "=")
		name, source = strings.TrimSpace(name), strings.TrimSpace(source)
		if !ok || name == "" || source == "" {
			return nil, fmt.Errorf("--columns %q: want col=source,… (source: a JSON field path or $shardId, $sequenceNumber, $subSequenceNumber, $partitionKey, $arrival, $data, $record)", part)
		}
		if strings.HasPrefix(source, "$") {
			switch source {
			case "$shardId", "$sequenceNumber", "$subSequenceNumber", "$partitionKey", "$arrival", "$data", "$record":
			default:
				return nil, fmt.Errorf("--columns: unknown source %q", source)
			}
		}
		if seen[name] {
			return nil, fmt.Errorf("--columns: column %q twice", name)
		}
		seen[name] = true
		cols = append(cols, column{name, source})
	}
	return cols, nil
}

func (p *Postgres) String() string { return p.dsn + " table " + p.table.Sanitize() }

func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// Deliver loads the records after the shard's checkpoint row and moves the
// row, in one transaction.
func (p *Postgres) Deliver(ctx context.Context, b Batch) (res Result, err error) {
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.prepare(cctx, false); err != nil {
		return res, err
	}
	tx, err := p.pool.Begin(cctx)
	if err != nil {
		return res, fmt.Errorf("PostgreSQL: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(cctx, `INSERT INTO `+checkpointTable+` (app, stream, shard_id, sequence_number, sub_sequence_number)
		VALUES ($1, $2, $3, -1, 0) ON CONFLICT DO NOTHING`, p.app, b.Stream, b.ShardID); err != nil {
		return res, fmt.Errorf("PostgreSQL checkpoint: %w", err)
	}
	var seq string
	var sub int64
	if err = tx.QueryRow(cctx, `SELECT sequence_number::text, sub_sequence_number FROM `+checkpointTable+`
		WHERE app = $1 AND stream = $2 AND shard_id = $3 FOR UPDATE`, p.app, b.Stream, b.ShardID).Scan(&seq, &sub); err != nil {
		return res, fmt.Errorf("PostgreSQL checkpoint: %w", err)
	}
	done := consumers.ExtendedSequenceNumber{SequenceNumber: seq, SubSequenceNumber: sub}
	var rows bytes.Buffer
	for _, r := range b.Records {
		if seq != "-1" && !after(r.Position(), done) {
			res.Skipped++
			continue
		}
		p.appendRow(&rows, b.ShardID, r)
		res.Rows++
	}
	if res.Rows > 0 {
		if _, err = tx.Conn().PgConn().CopyFrom(cctx, &rows, p.copySQL); err != nil {
			return Result{}, fmt.Errorf("PostgreSQL COPY into %s: %w", p.table.Sanitize(), describePgError(err))
		}
		last := b.Records[len(b.Records)-1]
		if _, err = tx.Exec(cctx, `UPDATE `+checkpointTable+` SET sequence_number = $4::numeric, sub_sequence_number = $5, updated = now()
			WHERE app = $1 AND stream = $2 AND shard_id = $3`, p.app, b.Stream, b.ShardID, last.SequenceNumber, last.SubSequenceNumber); err != nil {
			return Result{}, fmt.Errorf("PostgreSQL checkpoint: %w", err)
		}
	}
	if err = tx.Commit(cctx); err != nil {
		return Result{}, fmt.Errorf("PostgreSQL commit: %w", err)
	}
	return res, nil
}

func describePgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" {
		return fmt.Errorf("%w (create the table, or leave --columns out to have one made)", err)
	}
	return err
}

// after reports whether a is after b (decimal sequence numbers of any length).
func after(a, b consumers.ExtendedSequenceNumber) bool {
	if len(a.SequenceNumber) != len(b.SequenceNumber) {
		return len(a.SequenceNumber) > len(b.SequenceNumber)
	}
	if a.SequenceNumber != b.SequenceNumber {
		return a.SequenceNumber > b.SequenceNumber
	}
	return a.SubSequenceNumber > b.SubSequenceNumber
}

// appendRow writes one CSV row (an unquoted empty field is NULL).
func (p *Postgres) appendRow(w *bytes.Buffer, shard string, r consumers.UserRecord) {
	var obj map[string]any
	parsed := false
	for i, c := range p.columns {
		if i > 0 {
			w.WriteByte(',')
		}
		var v *string
		str := func(s string) { v = &s }
		switch c.source {
		case "$shardId":
			str(shard)
		case "$sequenceNumber":
			str(r.SequenceNumber)
		case "$subSequenceNumber":
			str(strconv.FormatInt(r.SubSequenceNumber, 10))
		case "$partitionKey":
			str(r.PartitionKey)
		case "$arrival":
			str(r.ApproximateArrivalTimestamp.UTC().Format(time.RFC3339Nano))
		case "$data":
			str(string(r.Data))
		case "$record":
			if json.Valid(r.Data) {
				str(string(bytes.TrimSpace(r.Data)))
			} else {
				b, _ := json.Marshal(string(r.Data))
				str(string(b))
			}
		default:
			if !parsed {
				parsed = true
				json.Unmarshal(r.Data, &obj)
			}
			v = lookup(obj, c.source)
		}
		if v != nil {
			w.WriteByte('"')
			w.WriteString(strings.ReplaceAll(*v, `"`, `""`))
			w.WriteByte('"')
		}
	}
	w.WriteByte('\n')
}

// lookup finds a dotted path in a JSON object: strings as they are, other
// values as JSON text, nil when missing or null.
func lookup(obj map[string]any, path string) *string {
	var cur any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[k]; !ok {
			return nil
		}
	}
	switch v := cur.(type) {
	case nil:
		return nil
	case string:
		return &v
	default:
		b, _ := json.Marshal(v)
		s := string(b)
		return &s
	}
}
