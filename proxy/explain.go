package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// explainStatement is the backend name of the statement being explained.
// A backend serves one borrower at a time and the statement is closed in
// the same batch that rolls back, so one fixed name never collides.
const explainStatement = "pgmoat_explain"

// ExplainGeneric returns EXPLAIN (VERBOSE, FORMAT JSON) of sql's generic
// plan for id: the plan PostgreSQL makes from the statement and its
// parameter types alone, so no value appears in it. sql carries $n
// parameters (a simple-protocol text must be normalized first); paramOIDs
// may be empty to let the server infer the types.
//
// sql is judged by policy like any statement. It is prepared, explained
// with plan_cache_mode forced to the generic plan, and closed, inside a
// read-only transaction that is rolled back; pgmoat's own texts around
// it (BEGIN, the setting, EXPLAIN EXECUTE, ROLLBACK) are constants.
func (x *Executor) ExplainGeneric(ctx context.Context, id policy.Identity, sql string, paramOIDs []uint32) (string, error) {
	v := x.engine.Decide(id, sql)
	if e := v.Err(); e != nil {
		return "", e
	}
	bk, _, local, err := x.lend(ctx, id)
	if err != nil {
		return "", err
	}
	defer x.pool.release(bk)
	behind := x.pool.cfg.BehindPooler
	if dl, ok := ctx.Deadline(); ok {
		_ = bk.conn.SetDeadline(dl)
		defer bk.conn.SetDeadline(time.Time{})
	}
	plan, err := x.explainOn(bk, v.SQL(sql), paramOIDs, local, behind)
	if bk.broken.Load() {
		return "", err // the pool closes it: nothing to roll back
	}
	if cerr := x.endExplain(bk); cerr != nil {
		bk.broken.Store(true)
		err = errors.Join(err, cerr)
	}
	return plan, err
}

// explainOn opens the transaction, prepares the statement and explains
// it. The transaction is left for endExplain to roll back.
func (x *Executor) explainOn(bk *backend, query string, paramOIDs []uint32, local settings, behind bool) (string, error) {
	msgs := append(constant(nil, "BEGIN READ ONLY"), localMessages(local, behind)...)
	msgs = constant(msgs, "SELECT 1 WHERE pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true) IS NULL")
	msgs = append(msgs,
		&pgproto3.Parse{Name: explainStatement, Query: query, ParameterOIDs: paramOIDs},
		&pgproto3.Describe{ObjectType: 'S', Name: explainStatement},
		&pgproto3.Sync{})
	var nparams int
	if err := x.roundTrip(bk, msgs, func(typ byte, body []byte) error {
		if typ != 't' {
			return nil
		}
		var pd pgproto3.ParameterDescription
		if err := pd.Decode(body); err != nil {
			return err
		}
		nparams = len(pd.ParameterOIDs)
		return nil
	}); err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	var plan strings.Builder
	err := x.roundTrip(bk, append(constant(nil, explainExecuteSQL(nparams)), &pgproto3.Sync{}), func(typ byte, body []byte) error {
		if typ != 'D' {
			return nil
		}
		var dr pgproto3.DataRow
		if err := dr.Decode(body); err != nil {
			return err
		}
		for _, v := range dr.Values {
			plan.Write(v)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("explain: %w", err)
	}
	return plan.String(), nil
}

// endExplain rolls back and drops the statement, and checks the backend
// is back to idle.
func (x *Executor) endExplain(bk *backend) error {
	msgs := constant(nil, "ROLLBACK")
	msgs = append(msgs, &pgproto3.Close{ObjectType: 'S', Name: explainStatement}, &pgproto3.Sync{})
	if err := x.roundTrip(bk, msgs, nil); err != nil {
		return err
	}
	if bk.txStatus != 'I' {
		return fmt.Errorf("backend left in transaction state %q", bk.txStatus)
	}
	return nil
}

// explainExecuteSQL is EXPLAIN EXECUTE of the prepared statement with a
// NULL for each parameter: the generic plan does not look at them.
func explainExecuteSQL(nparams int) string {
	var b strings.Builder
	b.WriteString("EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE " + explainStatement)
	if nparams > 0 {
		b.WriteString("(")
		for i := range nparams {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("NULL")
		}
		b.WriteString(")")
	}
	return b.String()
}

// constant appends Parse/Bind/Execute of one of pgmoat's own texts.
func constant(msgs []pgproto3.FrontendMessage, sql string) []pgproto3.FrontendMessage {
	return append(msgs, &pgproto3.Parse{Query: sql}, &pgproto3.Bind{}, &pgproto3.Execute{})
}

// roundTrip sends msgs (ending in Sync) and reads to ReadyForQuery.
func (x *Executor) roundTrip(bk *backend, msgs []pgproto3.FrontendMessage, seen func(typ byte, body []byte) error) error {
	if err := bk.sendAll(msgs...); err != nil {
		return err
	}
	return bk.untilReady(seen)
}
