package introspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ReloadChannel is the NOTIFY channel that asks every pgmoat serving a
// database to re-read its catalog.
const ReloadChannel = "pgmoat_reload"

// EventTriggerSQL installs an event trigger that sends NOTIFY pgmoat_reload
// after every DDL command (CREATE, ALTER, DROP, COMMENT, ...), so pgmoat
// sees schema changes within moments instead of at the next periodic
// reload. A superuser runs it once per database; pgmoat never runs it.
const EventTriggerSQL = `CREATE OR REPLACE FUNCTION pgmoat_notify_reload() RETURNS event_trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('` + ReloadChannel + `', tg_tag);
END
$$;
CREATE EVENT TRIGGER pgmoat_reload ON ddl_command_end
  EXECUTE FUNCTION pgmoat_notify_reload();
CREATE EVENT TRIGGER pgmoat_reload_drop ON sql_drop
  EXECUTE FUNCTION pgmoat_notify_reload();`

// ReloaderOptions configure a Reloader. The zero value reloads every 15
// minutes and on NOTIFY pgmoat_reload, logging to slog.Default().
type ReloaderOptions struct {
	// Interval between periodic reloads; 0 means 15 minutes, negative
	// disables them.
	Interval time.Duration
	// NoListen turns off the connection that waits on LISTEN pgmoat_reload.
	NoListen bool
	// Debounce groups the notifications of one DDL burst into one reload;
	// 0 means 500ms.
	Debounce time.Duration
	// OnChange runs after each reload that found a change, with the
	// published snapshot; it runs on the reloader's goroutine.
	OnChange func(old, cur *Snapshot, d Diff)
	Logger   *slog.Logger
	// ReconnectPause is the first pause before the LISTEN connection is
	// opened again after it broke; 0 means 1s. It doubles, up to a
	// minute, while reconnects keep failing, and is back to this after a
	// reconnect that got as far as LISTEN.
	ReconnectPause time.Duration
	// StartupRetry is how long NewReloader keeps trying a first load that
	// failed as a restarting server makes it fail (refused or dropped
	// connections, 57P01 shutting down, 57P03 starting up, class 08):
	// pgmoat may start just as its database restarts. 0 means 30s,
	// negative means no retry. Other errors (authentication, a missing
	// database, privileges) fail at once.
	StartupRetry time.Duration
}

// Reloader keeps the current snapshot of one database. Readers call
// Current, which never blocks: a reload builds a new snapshot on the side
// and swaps it in atomically, and calls in flight keep the one they took.
type Reloader struct {
	dsn     string
	opts    ReloaderOptions
	cur     atomic.Pointer[Snapshot]
	trigger chan struct{}
	mu      sync.Mutex // serializes reloads
}

// NewReloader loads the first snapshot; it fails when the catalog cannot
// be read, so a misconfigured backend is reported at start-up.
//
// dsn must reach the primary when the instance reads from replicas: the
// LISTEN connection waits there, because a NOTIFY is never replayed on a
// replica, and the schema is read there too, so a change is seen as soon
// as it is committed (a replica in rotation has it within the lag bound).
// be read, so a misconfigured backend is reported at start-up. A server
// that is restarting is waited for, up to StartupRetry.
func NewReloader(ctx context.Context, dsn string, opts ReloaderOptions) (*Reloader, error) {
	if opts.Interval == 0 {
		opts.Interval = 15 * time.Minute
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 500 * time.Millisecond
	}
	if opts.ReconnectPause <= 0 {
		opts.ReconnectPause = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StartupRetry == 0 {
		opts.StartupRetry = 30 * time.Second
	}
	r := &Reloader{dsn: dsn, opts: opts, trigger: make(chan struct{}, 1)}
	snap, err := r.firstLoad(ctx)
	if err != nil {
		return nil, err
	}
	r.cur.Store(snap)
	return r, nil
}

// firstLoad is load, tried again after a pause (100 ms doubling to 2 s)
// while it fails as a restarting server makes it fail, until
// StartupRetry has passed.
func (r *Reloader) firstLoad(ctx context.Context) (*Snapshot, error) {
	give := time.Now().Add(r.opts.StartupRetry)
	pause := 100 * time.Millisecond
	for {
		snap, err := r.load(ctx)
		if err == nil || !serverRestarting(err) || time.Now().Add(pause).After(give) {
			return snap, err
		}
		r.opts.Logger.Info("introspect: the server is not available yet; reading the schema again shortly",
			"err", err.Error(), "retry_in_ms", pause.Milliseconds())
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, err
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// serverRestarting reports whether err is how a server that is stopping,
// starting or restarting fails a client: its connection refused, reset
// or closed, or an error of class 08 (connection) or 57P01–57P03
// (shutting down, crashed, starting up).
func serverRestarting(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// Current returns the latest snapshot.
func (r *Reloader) Current() *Snapshot { return r.cur.Load() }

// Trigger asks for a reload soon (SIGHUP, the admin console's RELOAD). It
// never blocks; triggers that arrive while one is pending merge into it.
func (r *Reloader) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Reload re-reads the catalog now, publishes the result and returns what
// changed. On error the current snapshot stays in place.
func (r *Reloader) Reload(ctx context.Context) (Diff, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	snap, err := r.load(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("schema reload failed; keeping the previous snapshot", "err", err)
		}
		return Diff{}, err
	}
	old := r.cur.Swap(snap)
	d := Compare(old, snap)
	for _, line := range d.Lines() {
		r.opts.Logger.Info("schema change: " + line)
	}
	if !d.Empty() && r.opts.OnChange != nil {
		r.opts.OnChange(old, snap, d)
	}
	return d, nil
}

func (r *Reloader) load(ctx context.Context) (*Snapshot, error) {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return nil, fmt.Errorf("introspect: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	return Load(ctx, conn)
}

// Run reloads on the timer, on NOTIFY and on Trigger until ctx ends. It
// returns nil when ctx is cancelled.
func (r *Reloader) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !r.opts.NoListen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.listen(ctx)
		}()
	}
	var tick <-chan time.Time
	if r.opts.Interval > 0 {
		t := time.NewTicker(r.opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		case <-r.trigger:
		}
		_, _ = r.Reload(ctx) // failures are logged; the old snapshot stays
	}
}

// listen holds a LISTEN connection and turns notifications into triggers,
// reconnecting when the connection breaks: with a pause that grows while
// reconnects fail (a server that is down), and starts small again once
// one succeeded, so a server restarted now and then is not waited for a
// minute each time.
func (r *Reloader) listen(ctx context.Context) {
	pause := r.opts.ReconnectPause
	for ctx.Err() == nil {
		listened, err := r.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if listened {
			pause = r.opts.ReconnectPause
		}
		r.opts.Logger.Warn("schema reload listener lost its connection; retrying", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

// listenOnce listens on one connection until it fails; listened says it
// got as far as LISTEN.
func (r *Reloader) listenOnce(ctx context.Context) (listened bool, err error) {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return false, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+ReloadChannel); err != nil {
		return false, err
	}
	// A change committed before the LISTEN (after the snapshot in hand
	// was read, or while the connection was down) sent its NOTIFY to
	// no one: one reload now sees it.
	r.Trigger()
	return true, r.relay(ctx, conn)
}

// relay turns the notifications on conn into triggers until it fails.
func (r *Reloader) relay(ctx context.Context, conn *pgx.Conn) error {
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		if err := r.debounce(ctx, conn); err != nil {
			return err
		}
		r.Trigger()
	}
}

// debounce swallows further notifications for a short while, so a
// migration of fifty statements causes one reload.
func (r *Reloader) debounce(ctx context.Context, conn *pgx.Conn) error {
	deadline := time.Now().Add(r.opts.Debounce)
	for {
		wait, cancel := context.WithDeadline(ctx, deadline)
		_, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil:
			continue
		case pgconn.Timeout(err) && ctx.Err() == nil:
			return nil
		default:
			return err
		}
	}
}
