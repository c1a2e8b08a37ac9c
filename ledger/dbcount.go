package ledger

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"
)

// The admission state's connections count their round trips to the
// database (statements, begins, commits and rollbacks: each waits for the
// server's answer), so the cost of admission can be read per round
// (SharedStats, printed by make bench) rather than guessed.
//
// Statements are sent with their arguments interpolated by the driver
// (interpolateParams): without it, every statement with arguments is a
// prepare and an execute, two round trips where one does.

type dbCounter struct {
	trips atomic.Uint64
}

func openCountedDB(dsn string, c *dbCounter) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.InterpolateParams = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(&countingConnector{conn, c}), nil
}

type countingConnector struct {
	driver.Connector
	c *dbCounter
}

func (cc *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	// Admission's transactions run READ COMMITTED (see shared.inTx): set
	// once per connection, so that BEGIN is one round trip, not two.
	if _, err := conn.(driver.ExecerContext).ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return &countingConn{conn, cc.c}, nil
}

// countingConn passes everything to the MySQL driver's connection, which
// implements all of these interfaces; only the counting is added.
type countingConn struct {
	driver.Conn
	c *dbCounter
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.trips.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.trips.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.c.trips.Add(1)
	return c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, q)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.c.trips.Add(1)
	if sql.IsolationLevel(opts.Isolation) != sql.LevelDefault {
		c.c.trips.Add(1) // the driver sets the level first
	}
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{tx, c.c}, nil
}

func (c *countingConn) Ping(ctx context.Context) error {
	c.c.trips.Add(1)
	return c.Conn.(driver.Pinger).Ping(ctx)
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *countingConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

type countingTx struct {
	driver.Tx
	c *dbCounter
}

func (t *countingTx) Commit() error {
	t.c.trips.Add(1)
	return t.Tx.Commit()
}

func (t *countingTx) Rollback() error {
	t.c.trips.Add(1)
	return t.Tx.Rollback()
}

// SharedStats are the admission state's database figures since the
// ledger was opened (zero for POSIX).
type SharedStats struct {
	RoundTrips uint64 // statements, begins, commits, rollbacks and pings sent to the database by admission
	Batches    uint64 // admissions that reserved entries (each one transaction)
	Entries    uint64 // entries reserved by them
	Claimed    uint64 // parked entries among them (another frontend's, or this one's taken back; shared_park.go)
}

// SharedStats reports the admission state's database figures.
func (l *Ledger) SharedStats() SharedStats {
	if l.shared == nil {
		return SharedStats{}
	}
	return SharedStats{RoundTrips: l.shared.counter.trips.Load(), Batches: l.shared.batches.Load(), Entries: l.shared.entries.Load(), Claimed: l.shared.claimed.Load()}
}
