package proxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgmoat/pgmoat/policy"
)

// Executor runs pgmoat's own parameterized statements (the MCP side's
// queries) on the shared pool, under the caller's identity and with the
// same policy check and settings injection as proxy clients. Statements
// are prepared once per backend and reused. Safe for concurrent use: each
// call owns the backend it borrowed, and values are encoded and decoded
// with that backend's codec map (pgx's pgtype.Map is not safe to share
// between goroutines); only the description cache is shared, under its
// lock. Its borrowings count against the identity's cap like a proxy
// session's.
type Executor struct {
	pool       *Pool
	engine     *policy.Engine
	rlsSetting string

	// described caches statement descriptions when no backend keeps
	// prepared statements (behind a pooler).
	describedMu sync.Mutex
	described   map[string]*stmtInfo
}

// NewExecutor wires an executor to a pool and engine; rlsSetting ""
// means request.user_id.
func NewExecutor(pool *Pool, engine *policy.Engine, rlsSetting string) *Executor {
	if rlsSetting == "" {
		rlsSetting = policy.DefaultRLSSetting
	}
	return &Executor{pool: pool, engine: engine, rlsSetting: rlsSetting, described: map[string]*stmtInfo{}}
}

// Field describes one result column.
type Field struct {
	Name    string
	TypeOID uint32
}

// Result is a read result set. Values are decoded by pgx's type map
// (int64, string, time.Time, pgtype.Numeric, map/[]any for json, ...).
// Fields is shared by every result of the same statement: read it, do
// not change it.
// Under a byte budget (QueryBudget) it holds what fitted: Truncated says
// rows were left out, Cut names the values too large to keep.
type Result struct {
	Fields []Field
	Rows   [][]any
	// Truncated is true when the budget ended the rows kept: the rest
	// of the result was read from the server and dropped.
	Truncated bool
	// Cut lists the values of the first row that were larger than the
	// whole budget left for them; each is nil in Rows.
	Cut []CutValue
	// Verdict is the policy decision the statement ran under.
	Verdict policy.Verdict

	slab []any // values of the rows still to come (newRow)
}

// CutValue is a value QueryBudget did not keep.
type CutValue struct {
	Row, Column int
	// Size is the value's length in its text form, in bytes.
	Size int
}

// stmtInfo is what a backend knows about one prepared statement.
type stmtInfo struct {
	paramOIDs []uint32
	fields    []pgproto3.FieldDescription
	// result is fields as Result.Fields, made once and shared by every
	// result of the statement.
	result []Field
}

// Query runs sql with args as bind parameters for id and keeps the whole
// result. A policy denial is returned as *policy.Error; a server error
// as *pgconn.PgError.
func (x *Executor) Query(ctx context.Context, id policy.Identity, sql string, args ...any) (*Result, error) {
	return x.QueryBudget(ctx, id, 0, sql, args...)
}

// QueryBudget is Query keeping at most about maxBytes of values (their
// text forms' lengths; 0: no bound). Rows are kept while they fit; the
// first one that does not ends the kept rows (Result.Truncated), except
// a first row, which is kept without the values that alone exceed what
// is left (Result.Cut). The rest of the result is read and dropped
// without ever being held whole, so a huge value costs no memory.
func (x *Executor) QueryBudget(ctx context.Context, id policy.Identity, maxBytes int, sql string, args ...any) (*Result, error) {
	v := x.engine.Decide(id, sql)
	if e := v.Err(); e != nil {
		return nil, e
	}
	if v.Setting != nil {
		// Only a session keeps client settings; run here, the SET would
		// stay on the backend's session.
		return nil, &policy.Error{SQLState: policy.SQLStateDenied, Rule: policy.RuleSettings,
			Message: "pgmoat: " + policy.RuleSettings + ": SET " + v.Setting.Name + " has no session to keep it here"}
	}
	if v.Deallocate != nil {
		// The statements DEALLOCATE names are a session's; here there
		// is none, and the backend's are shared.
		return nil, &policy.Error{SQLState: policy.SQLStateDenied, Rule: policy.RuleKind,
			Message: "pgmoat: " + policy.RuleKind + ": DEALLOCATE has no session's statements to forget here"}
	}
	query := v.SQL(sql)
	bk, want, local, err := x.lend(ctx, id)
	if err != nil {
		return nil, err
	}
	defer x.pool.release(bk)
	res, err := x.run(ctx, bk, query, args, want, local, maxBytes)
	if err != nil {
		return nil, err
	}
	res.Verdict = v
	return res, nil
}

// lend borrows a backend for id with its session settings in force (see
// prepareLending) and returns the settings every transaction on it sets
// for itself.
func (x *Executor) lend(ctx context.Context, id policy.Identity) (bk *backend, want, local settings, err error) {
	profile, _ := x.engine.Profile(id.Profile)
	want = newSettings(x.rlsSetting, id.UserID, profile, nil)
	local = customPlans(want.local(x.rlsSetting, x.pool.cfg.BehindPooler))
	key := want.key()
	bk, err = x.pool.lend(ctx, borrowerFor(id, key), func(bk *backend) error {
		return x.pool.prepareLending(ctx, bk, id, want, key, local)
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return bk, want, local, nil
}

// customPlans adds plan_cache_mode=force_custom_plan to the settings
// the executor's transactions set for themselves. Its statements are
// prepared once per backend and bound again with each call's values; left
// to plan_cache_mode=auto, the server switches a statement to its generic
// plan after five executions, and the generic plan of a lookup such as
// "customer_id = ANY($1) ORDER BY created_at DESC LIMIT $2" knows neither
// the ids nor the limit: on the shop demo it walks the created_at index
// backwards and filters out some 14,000 rows (about 10 ms) where the plan
// made for the values reads the 77 rows of the customer_id index and
// sorts them (about 0.5 ms). A custom plan costs the server a planning of
// about 0.2 ms per call. The setting travels with the others in the same
// Bind, so it costs no round trip, and is transaction-local: it never
// reaches a proxy client's statements.
func customPlans(local settings) settings {
	return append(local, setting{"plan_cache_mode", "force_custom_plan"})
}

func (x *Executor) run(ctx context.Context, bk *backend, query string, args []any, want, local settings, maxBytes int) (*Result, error) {
	lending := bk.lending.Load() // this call's: it holds bk until release
	// A cancel sent because ctx ended must reach the server before the
	// backend goes back to the pool (the caller's deferred release), or
	// it could cancel the next borrower's statement: stop waits for it.
	cancelled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(cancelled)
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = bk.cancel(cctx, lending)
		cancel()
	})
	defer func() {
		if !stop() {
			<-cancelled
		}
	}()
	name := backendStatementName(query, nil)
	behind := x.pool.cfg.BehindPooler
	var info *stmtInfo
	var err error
	if behind {
		info, err = x.describe(bk, name, query)
	} else {
		info, err = x.prepare(bk, name, query)
	}
	if err != nil {
		return nil, err
	}
	if len(args) != len(info.paramOIDs) {
		return nil, fmt.Errorf("statement takes %d parameters, got %d", len(info.paramOIDs), len(args))
	}
	params := make([][]byte, len(args))
	for i, a := range args {
		if a == nil {
			continue
		}
		buf, err := bk.codecs().Encode(info.paramOIDs[i], pgtype.TextFormatCode, a, nil)
		if err != nil {
			return nil, fmt.Errorf("parameter $%d: %w", i+1, err)
		}
		params[i] = buf
	}
	// One transaction: the identity, timeout and read-only flag, then
	// the statement, in the same round trip.
	msgs := localMessages(local, behind)
	if behind {
		name = ""
		msgs = append(msgs, &pgproto3.Parse{Query: query, ParameterOIDs: info.paramOIDs})
	}
	msgs = append(msgs, &pgproto3.Bind{PreparedStatement: name, Parameters: params}, &pgproto3.Execute{}, &pgproto3.Sync{})
	if err := bk.sendAll(msgs...); err != nil {
		return nil, err
	}
	res := &Result{Fields: info.result}
	err = x.readRows(bk, info, res, want, newRowBudget(maxBytes))
	if ctx.Err() != nil && err != nil {
		return nil, fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return res, err
}

// describe learns a statement's parameter and column types through the
// unnamed statement, once per text, for backends that keep nothing.
func (x *Executor) describe(bk *backend, name, query string) (*stmtInfo, error) {
	x.describedMu.Lock()
	info, ok := x.described[name]
	x.describedMu.Unlock()
	if ok {
		return info, nil
	}
	info, err := x.parseAndDescribe(bk, "", query)
	if err != nil {
		return nil, err
	}
	x.describedMu.Lock()
	x.described[name] = info
	x.describedMu.Unlock()
	return info, nil
}

// prepare makes sure name is prepared on bk and returns its description.
func (x *Executor) prepare(bk *backend, name, query string) (*stmtInfo, error) {
	if info, ok := bk.stmtInfo[name]; ok {
		return info, nil
	}
	info, err := x.parseAndDescribe(bk, name, query)
	if err != nil {
		return nil, err
	}
	bk.stmtInfo[name] = info
	bk.addPrepared(name)
	return info, nil
}

// parseAndDescribe parses query under name and reads its description.
func (x *Executor) parseAndDescribe(bk *backend, name, query string) (*stmtInfo, error) {
	msgs := []pgproto3.FrontendMessage{&pgproto3.Parse{Name: name, Query: query}, &pgproto3.Describe{ObjectType: 'S', Name: name}, &pgproto3.Sync{}}
	if _, have := bk.prepared[name]; have && name != "" {
		msgs = msgs[1:] // a proxy client prepared the same text on this backend
	}
	if err := bk.sendAll(msgs...); err != nil {
		return nil, err
	}
	info := &stmtInfo{}
	err := bk.untilReady(func(typ byte, body []byte) error {
		switch typ {
		case 't':
			var pd pgproto3.ParameterDescription
			if err := pd.Decode(body); err != nil {
				return err
			}
			info.paramOIDs = append([]uint32(nil), pd.ParameterOIDs...)
		case 'T':
			var rd pgproto3.RowDescription
			if err := rd.Decode(body); err != nil {
				return err
			}
			info.fields = copyFields(rd.Fields)
			info.result = make([]Field, len(info.fields))
			for i, f := range info.fields {
				info.result[i] = Field{Name: string(f.Name), TypeOID: f.DataTypeOID}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

func copyFields(in []pgproto3.FieldDescription) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, len(in))
	for i, f := range in {
		out[i] = f
		out[i].Name = append([]byte(nil), f.Name...)
	}
	return out
}

// pgError decodes an ErrorResponse into the error type pgx users know.
func pgError(body []byte) error {
	var er pgproto3.ErrorResponse
	if err := er.Decode(body); err != nil {
		return err
	}
	return &pgconn.PgError{
		Severity: er.Severity, Code: er.Code, Message: er.Message, Detail: er.Detail, Hint: er.Hint,
		Position: er.Position, SchemaName: er.SchemaName, TableName: er.TableName, ColumnName: er.ColumnName,
	}
}
