// Package proxy is pgmoat's PostgreSQL wire-protocol front door and the
// backend pool both doors share.
//
// Ownership, from the outside in:
//
//   - Server owns the client listener, every client connection it accepts
//     and the registry of cancel keys. Close stops accepting, lets running
//     transactions finish up to a deadline and closes what is left; each
//     client is told and counted once among the shutdown disconnects:
//     only the first farewell left for a session counts (session.bid),
//     so the graceful pass (every 50 ms) does not tell again a session it
//     told that has not ended yet, and the forced close counts only the
//     connections it closes itself of sessions nobody told. Neither the
//     shutdown's pass nor KILL writes to a running session's client
//     (the session writes its farewell itself, see below), so a client
//     that stopped reading, whose session is blocked writing to it, keeps
//     neither waiting; the notice written for a parked session by whoever
//     took it out of the parker's map bounds the connection's writes to a
//     second first. A temporary Accept error (out of file descriptors) backs off, 5 ms
//     doubling to 1 s, each failure counted and logged, rate-limited
//     like the pool's events (accept.go): a flood of
//     connections delays new clients, it never stops the server. The
//     same listener wrapper (NewBackoffListener) serves the MCP door,
//     which the binary wires in with the MCP door's own counter. A
//     client's CancelRequest goes to the backend its session holds, and
//     only while that lending lasts: handing a backend back waits for a
//     cancel being sent for it and refuses any later one
//     (backend.cancel), and neither a session's backend nor an
//     Executor's (whose context ended) is handed on before the server
//     has read a cancel sent for it, so a cancel never reaches the next
//     borrower. A cancel that comes while a statement's batch moves to
//     another backend (replay.go), or that went to the backend found
//     dead, is sent to the backend the batch moves to once it has the
//     batch: the statement runs still, from the client's view. One that
//     comes while the statement waits for a backend from a full pool
//     ends the wait and the statement is answered 57014 without reaching
//     a server (acquire.go); so does one that comes while a TimeZone SET
//     waits for the backend that checks the zone.
//   - A session owns one client connection for its whole life. It borrows a
//     backend from the Pool at a client's first statement and gives it back
//     when PostgreSQL reports the transaction idle (transaction pooling).
//     The session goroutine does everything in turn: it reads a client
//     message, writes it to the backend and, after a Sync, Query or Flush,
//     forwards the backend's answers until nothing more is owed, as
//     PostgreSQL itself serves a connection (and in the middle of a
//     batch large enough to fill the sockets: see below). Those answers
//     reach the client then, even when the server sent something unasked
//     right behind the last one (the notice of a server killed just after
//     it answered, in the same read): that is read at the client's next
//     message, whose statement finds the backend gone (08006). On a plain TCP or Unix
//     socket the write of a batch is left to the read of its answer
//     (fused.go), which writes it and waits for the answer before its
//     first read system call: no read finds the socket empty. Only when the client has gone
//     does a forwarder goroutine drain the backend (the ROLLBACK of an
//     abandoned transaction) before it goes back to the pool. A session
//     that holds a backend while it waits for its client longer than the
//     idle-transaction timeout is ended (FATAL 25P03) and its transaction
//     rolled back: the server's sweeper only claims the wait (idle.go);
//     the session itself tells the client and lets go. While lent to a
//     session, each write to the backend is bounded by the same timeout
//     (stallWriter), a last resort: the backend is discarded.
//   - A batch of any size is served while its client reads the answers
//     concurrently (pgx's batches, libpq's pipeline mode), as PostgreSQL
//     serves it (pipeline.go): pgmoat never needs the server to read more
//     of a batch before pgmoat reads the answers owed so far. Each client
//     message is staged whole, none of it on the socket, and committed
//     once handled; when bytes are already in flight to the backend
//     (committed since it last owed nothing: inFlight) and the message
//     would take them past pipelineBound (16 KiB), pgmoat first sends a
//     Flush and forwards every answer owed, then sends the message.
//     Why no deadlock is left for a client that reads: pgmoat waits on
//     the server in two ways only. (1) Reading an answer: it reads only
//     once a Sync, Query or Flush went out behind everything the answer
//     is owed for, so the server can send it; the server's way to it is
//     blocked only by pgmoat's write to the client, which a reading
//     client frees. (2) Writing: a write blocks for good only if the
//     server stops reading while pgmoat does not read, that is while the
//     server is blocked sending answers. Since the backend last owed
//     nothing, pgmoat has committed either at most pipelineBound bytes
//     and a Flush, which the sockets hold whether the server reads or
//     not (a TCP socket starts at 16 KiB to send and a 64 KiB window to
//     receive, a Unix one at 208 KiB), or one client message alone,
//     committed while the server waited for input: the server reads all
//     of it before it answers more than a few bytes (the per-transaction
//     settings and a hidden Parse have small answers; the client's own
//     message runs once read whole), and the message after it is
//     committed only once the answers are read. Messages the server
//     skips after an error it reads without answering. So neither side
//     waits on the other while the client reads. A client that does not
//     read blocks pgmoat's write to it, as it would block PostgreSQL's,
//     and the bounds for that case hold as before: the stalled-writer
//     sweep (idle.go) and the hang-up watch (watch.go) end it. The
//     decision is taken between client messages, after the message's
//     handler did everything it does, so reading answers early changes
//     nothing PostgreSQL's semantics depend on: an error found in them
//     drops the message's entries with the rest up to Sync, as when read
//     after the whole batch, and the server skips the message. The write
//     of a batch is still left to the read of its answer (fused.go),
//     whose wait is sound only because every answer owed before that
//     write has been read: before, a batch larger than the write buffer
//     was partly written early, the server's answers to it filled the
//     socket, and the read after the last write waited for bytes that
//     were already there. A batch under the bound is one write and one
//     read, as before.
//   - Pool owns the backend connections, all opened as the configured
//     read-only role with client_encoding UTF8 and
//     standard_conforming_strings on. Its first connection runs
//     CheckBackendRole and refuses a role that could write, bypass
//     row-level security or reach server files (invariant 8) unless
//     PoolConfig.AllowUnsafeRole says otherwise, so no door that opens
//     backends can skip the check. A backend is lent to one borrower at a
//     time (a proxy session or the in-process Executor the MCP side uses).
//     One identity (user id and profile) holds at most
//     PoolConfig.MaxPerIdentity backends at once, through both doors. A
//     lent backend's fields are its borrower's alone; the admin console
//     reads only the immutable ones and the snapshot the borrower
//     publishes (backend.shown), and the Executor decodes with the
//     borrowed backend's own pgtype.Map. The pool does not trust its
//     record of what a backend carries (lending.go): every transaction
//     sets the borrower's identity, statement_timeout and read-only flag
//     for itself, transaction-locally, pipelined ahead of the borrower's
//     first statement (a transaction that COMMIT AND CHAIN or ROLLBACK
//     AND CHAIN opens, or that a COMMIT inside an extended batch lets
//     the next message start, gets them ahead of its first message too,
//     chain.go); a backend that goes to another identity (user id
//     or profile) is cleaned with DISCARD ALL first (advisory locks,
//     LISTEN, prepared statements, session settings). The per-transaction
//     settings cost PostgreSQL one more Bind/Execute per transaction
//     (about 9 µs of server CPU for a primary-key SELECT measured
//     directly; 8–21 µs through pgmoat under pgbench -S on a busy 2-core
//     machine) and pgmoat nothing measurable: their messages are encoded
//     once per session and travel in the client's first write. When they
//     fail (whatever the server's reason), the client gets the server's
//     error and, in the simple protocol, where no Sync of its own would
//     end the backend's skipping, ReadyForQuery from pgmoat
//     (injectfail.go); the backend is discarded either way. The
//     Executor's transactions also set plan_cache_mode=force_custom_plan
//     that way: its statements are prepared once per backend, and the
//     generic plan the server would switch to after five executions is
//     made without the call's values (for the shop demo's orders lookup
//     by customer ids it scans the created_at index and filters some
//     14,000 rows, about 10 ms, where the plan for the values takes
//     0.5 ms). Its settings statement, one setting longer, has a name
//     of its own (one per number of settings, lending.go), so a backend
//     lent in turn to both doors prepares neither again. Settings
//     that fail ahead of an extended batch fail the batch: everything up
//     to the client's Sync is skipped, a Query pipelined inside it too,
//     as PostgreSQL skips; an unsynced batch queued behind a failed
//     Query gets one error and is skipped by the session to its Sync.
//   - The pool keeps its connections honest about the server's life
//     (pool.go): before lending an idle backend to the Executor or to
//     itself it peeks at the socket without blocking (backend.check), so
//     one the server closed or spoke to while idle (a FATAL at shutdown)
//     is never lent. A proxy session is lent one without the peek (a
//     system call per transaction): it keeps the lending's first batch
//     until the backend's first byte, and a backend that provably ran
//     nothing of the batch is discarded and the batch sent once to
//     another (replay.go): its first message is the server's own FATAL
//     (SQLSTATE class 57: an administrator's command, a shutdown, an
//     idle-session timeout), which precedes the answer of the
//     per-transaction settings leading the batch, so it was sent before
//     the server took the batch; or the connection ended with nothing
//     read and none of the lending's bytes reached the server's socket
//     (its first write failed, or on plain TCP the kernel acknowledged
//     none of them: bytes that meet a closed socket are answered with a
//     reset). The end of the connection alone proves nothing, since
//     PostgreSQL answers at the end of a batch: a server that crashed
//     running it, or a network cut while it runs, looks the same, and a
//     replay would run the statement a second time (next to the first,
//     or crashing the next server); neither does a pooler's own FATAL
//     (PgBouncer's "server conn crashed?" is 08P01). Those, and a
//     backend that fails after its first byte, cost the client FATAL
//     08006, as part of the batch may have run. Every message of the
//     batch is kept before it is written, so a write that fails does not
//     leave it out of the replay. A backend found
//     dead ends its epoch: the idle backends opened in it are closed too,
//     because what killed one (a restart, a failover) killed them all, and
//     the pool refills to PoolConfig.Min in the background. A backend that
//     fails while pgmoat readies it for a borrower (DISCARD ALL, the
//     settings, the per-transaction statement, which a fresh backend
//     prepares again) is replaced and the lending retried, since the
//     borrower's first statement was not sent yet. Waiting and connecting
//     both end at the borrower's acquire timeout: a hung server costs a
//     client 53300 then, not a connect timeout of its own. Lost backends,
//     failed connects and exhausted waits are counted and logged at info
//     level, rate-limited per kind (events.go); so are the server's
//     startup timeouts and shutdown disconnects.
//   - With replicas (PoolConfig.Replicas), the primary's Pool routes
//     (hosts.go): each replica has a Pool of its own, with its own sizes,
//     its own role check on its first connection and its backends' own
//     cancel addresses, and every lending, from a proxy session or the
//     Executor alike, goes whole to one host, so a transaction never
//     spans hosts and the identity, timeout and read-only flag are
//     injected there as on the primary. The host is a replica in
//     rotation with the least outstanding work (lent, connecting and
//     waiting over its max), the primary only when none is in rotation
//     (PrimaryFallback), never, or always beside them. A backend knows
//     its home pool and goes back to it. One health goroutine
//     (health.go) samples the primary's WAL position and then checks
//     each replica, every second by default, on connections of its own:
//     one that does not answer, is no longer in recovery (promoted) or
//     replays more than MaxReplicaLag behind leaves rotation, and comes
//     back when a check finds it fit. The lag is 0 once a replica has
//     replayed the primary's last sampled position, so an idle primary
//     is not lag; otherwise it is the smaller of the time since the
//     replica last caught up with a sample and the age of its last
//     replayed transaction. A replica also leaves rotation at once when
//     one of its backends is found dead or a connect to it fails; the
//     lending then goes on to another host. Rotation changes are logged
//     (host left rotation, host joined rotation).
//
// Session state and its owners (session.go, forward.go):
//
//   - the whole session, while it is parked: the parker's map (park.go).
//     A session that has waited for its client longer than a scan of the
//     parker (100 ms to 200 ms) with no backend held and nothing owed
//     parks: its socket goes into the parker's epoll set (one-shot, for
//     input or hang-up) and its goroutine returns, so an idle client
//     costs no goroutine stack. Whoever takes the session out of the map
//     owns it and runs the session loop again on a fresh goroutine: the
//     poller's goroutine when the socket is readable (the next message,
//     or a hang-up that the resumed read sees as the end of stream), a
//     waker right after it closed the connection (the stalled-writer
//     sweep, the forced shutdown), whose resumed read fails and ends the
//     session as any other, or a KILL or the shutdown's pass after it
//     wrote the session's farewell (client output, below). A client that sends back to back never
//     parks: the scan claims only a wait published a whole interval
//     before (a compare-and-swap, then a read deadline in the past), so
//     the busy path pays three atomic operations per wait and no system
//     call. TLS clients and platforms other than Linux do not park. A
//     parked session holds no backend, so the idle-transaction sweeper
//     never has a wait of one to claim. The scan lists a session from
//     the moment it is handed its goroutine until it ends: one whose
//     login failed after it was made (a client that reset its connection
//     right behind its startup packet) is never listed, so it cannot
//     stay in the list for the life of the server.
//   - client input (clientReader): the session goroutine alone. It holds
//     no buffer while it waits: on a plain TCP or Unix socket it waits
//     through the socket's RawConn and takes an 8 KiB buffer from the
//     server's pool only for the read system call that finds bytes (a
//     TLS connection is read 5 header bytes at a time while idle), and
//     gives it back once everything read has been handled; a message
//     over 8 KiB gets a buffer of its own, dropped after use. The
//     startup exchange reads through startupReader, which never reads
//     past the message it is asked for, so the hand-over from pgproto3
//     loses nothing a client pipelined behind its password. An idle
//     client holds no read buffer, and no write buffer either: the
//     output buffer goes back to the server's pool after every flush.
//   - Each piece below is owned by one goroutine, as in cockroach's
//     sqlproxyccl forwarder, so the per-message path takes no lock: the
//     session goroutine reads the client and, after each Sync, Query or
//     Flush, the backend, and it alone writes the client. While cleanup
//     drains an abandoned lending (rollbackAbandoned), the client output
//     and the lending pass to the forwarder goroutine (the go statement
//     hands them over, fwdWG.Wait hands them back). While the session is
//     parked every piece is the parker's map's, and then whoever takes
//     the session out of it, until it runs the session loop again (the
//     go statement hands them on).
//   - client output (clientOut: out, outErr, scratch, saidFarewell): the
//     session goroutine's. A KILL or a shutdown does not write to a
//     running session's client: it leaves its FATAL in farewell and
//     wakes the session's read (session.bid); the session writes it
//     between two messages and ends. A session that does not get there
//     within abandonGrace (its client stopped reading) has its
//     connection closed. A parked session has no goroutine to write it:
//     the KILL or the shutdown's pass takes it out of the parker's map,
//     which makes its output theirs, writes the FATAL under a one-second
//     write deadline, closes the connection and resumes the session,
//     which finds the farewell said and ends. A session never parks with
//     a farewell left: the parker checks for one under its lock, which
//     the farewell's take of a parked session holds too.
//   - the current lending (lendingState: bk, expect, queue, unsynced,
//     backendSkips, clientGone; in work: span and the
//     statement's outcome): the session goroutine's. The response
//     queue's array (queue) comes from the server's pool when something
//     is queued and goes back once nothing is owed and no backend is
//     held, so a session between transactions holds none.
//   - what the session shows other goroutines (shown: the held backend,
//     whether anything is owed, the farewell): atomics the session
//     goroutine stores and the admin console, the cancel path, KILL,
//     shutdown and the client watch load (the farewell alone is stored
//     by another, once). A cancel reads the held backend under cancelMu,
//     which the release of a backend takes (handBack), so it reaches the
//     server before the backend can go to anyone else; wmu orders an
//     abandoned lending's ROLLBACK write with the forwarder's release of
//     it.
//   - the bytes in flight to the held backend and the client message
//     being staged (inFlight, staged, stagedEntries, wantFlush in
//     lendingState; work.held; the backend's pending): the session
//     goroutine's, as the lending is.
//   - the lending's first batch as sent (work.replay), kept until the
//     backend's first byte for a replay on another backend: the session
//     goroutine alone; cleanup stops keeping it before a forwarder drains
//     an abandoned lending.
//   - the extended-protocol batch (batchState: batchOpen, skipping,
//     unnamed, unnamedFresh, stmts, txEnded; in work: batchKind,
//     batchSQL, batchOIDs, endPortals, unnamedPortal and portals
//     (portals.go), and sets: the portals of client SETs and what the
//     batch's SETs changed, and those a transaction block holds,
//     clientsetext.go and clientsetblock.go): the session goroutine
//     alone (a forwarder draining an abandoned lending leaves sets
//     alone, and undoes nothing of a batch the server skipped,
//     skipped.go).
//   - work (sessionWork) is allocated at the session's first message and
//     stmts at its first named Parse, so a client that logs in and waits
//     (or is parked) carries neither; the hang-up watch in work has its
//     own lock (watch.go).
//   - idleSince and writeSince: atomics, published by the session
//     goroutine for the sweeper; the client reader's parkWait likewise
//     for the parker's scan, which may only claim it.
//   - the settings its backends carry (set): the session goroutine
//     replaces the pointer; the value is immutable and shared by every
//     session of the same identity, startup parameters, client settings
//     (clientset.go, clientsetext.go: the SETs it took itself, in either
//     protocol) and engine generation,
//     from a cache that holds it weakly (shared.go).
//
// Clients speak UTF8 (or SQL_ASCII on a UTF8 database, which the server
// does not convert): any other client_encoding is refused at startup
// (encoding.go), because the server converts a statement's bytes before
// it lexes them and the policy judges them as UTF-8. A backend that
// reports client_encoding, standard_conforming_strings,
// session_authorization or is_superuser changing to a value pgmoat did
// not put in force is discarded, and its borrower's session ends.
//
// What the Go runtime costs per transaction, and what was tried against
// it (pgbench -S -M extended, 16 and 64 clients, system calls counted
// with the kernel's syscall tracepoints, perf stat -e
// 'syscalls:sys_enter_*' -p, which do not slow the calls down): about 8
// system calls per transaction, reads 2.3-2.7, writes 1.7-2.0,
// epoll_pwait 1.5-2.3, futex 0.7-1.3, nanosleep 0.3-0.7, sched_yield
// 0.1. Every nanosleep is the runtime's sysmon thread (strace -f puts
// them all on one thread, 20 µs sleeps and 10 ms ones), none a worker
// spinning to steal work; sysmon stays at its shortest sleep while it
// finds Ps in system calls, which strace -f itself causes (a traced call
// lasts longer than 20 µs), so a strace -c table overstates nanosleep
// and futex several times. Nothing the program does changes sysmon's
// pace. GOMAXPROCS=1 (no idle P to wake, so futex falls to 0.2-0.4 and
// the calls to 6.3-6.9 per transaction) costs 15-40% of the throughput
// at the same CPU per transaction within the noise, so pgmoat keeps the
// runtime's default. The client watch's timer, reset per batch that
// waits for the backend, adds no system call (a build without it counts
// the same 7.2), nor does the write limit on a fused write (fused.go
// writes without a deadline). What is left is the client read that finds
// the socket empty after each answer before it parks (clientread.go) and
// the wake-ups of the runtime's threads: the cost of a goroutine per
// client, which PgBouncer's single loop does not pay.
//
// An unnamed Parse is sent to the server every time, even for a text the
// client sent unnamed before. Binding a named server-side statement
// instead would save the server its parse and analysis (measured under
// pgbench -S -M prepared with plan_cache_mode=force_custom_plan against
// -M extended, directly: roughly a third of PostgreSQL's CPU per
// transaction), but it is not the same statement: a named statement may
// switch to a generic plan after five executions unless
// plan_cache_mode=force_custom_plan is in force, which would then apply
// to the client's own named statements in the same transaction too; and
// a named statement whose result row type a concurrent ALTER TABLE
// changed fails with "cached plan must not change result type" where an
// unnamed Parse of the same text succeeds. The semantics are not
// provably unchanged, so pgmoat does not do it.
//
// A client's named statement is prepared on the server under a name
// made of its text, its parameter types and, when the client chose any,
// its DateStyle, TimeZone and IntervalStyle (statementName, shared.go):
// the server reads a statement's literals once, at Parse, under those,
// so sessions of one identity share a backend's statement only when
// they would read it alike. After a client SETs one of them, its
// statements are read again under the new value where they are next
// bound; so are they after the undo of such a SET (its batch failed,
// its block rolled back), under the value put back: every change of the
// session's settings goes through one function (rebuildSettings), which
// renames the statements whenever the settings their names stand for
// changed.
//
// A prepared statement is judged again at Bind when the engine's rules
// changed since it was judged (RELOAD, a new function catalog): one that
// is now denied gets the denial, and the session goes on; so is the
// statement a portal runs at each Execute of it after such a change (a
// portal Executed again in a later batch of a transaction block,
// portals.go).
//
// An error the session answers itself (a denial, 34000, 26000, 42P05, a
// DEALLOCATE's or a client SET's) fails the transaction it comes in, as
// the server's own errors do (abort.go): with a backend held, the
// backend is sent a statement that fails for certain in the refused
// one's place, a syntax error that runs nothing, and the client gets the
// session's error in the place of the server's and the server's
// ReadyForQuery ('E' inside a block, whose later statements get 25P02
// and whose COMMIT is answered ROLLBACK; an extended batch skipped to
// its Sync and its implicit transaction rolled back). In a block that
// has already failed, a refusal is answered 25P02, as PostgreSQL
// answers every statement there but a text that does not parse. With
// no backend held no transaction is open, and the session answers
// alone, as before. A statement that does not fail takes none of this path.
//
// Every statement text a client sends (simple Query, or the text of an
// extended-protocol Parse) is decided by the policy engine before anything
// reaches a backend. A simple Query goes through Engine.DecideQuery,
// whose shape cache answers a text that differs from judged ones only in
// constants the verdict does not depend on without parsing it. A Parse's
// parameter type OIDs are judged too (Engine.DecideParameterTypes), each
// as the cast $n::type would be, since at Bind the server runs the type's
// input function and a domain's CHECKs whatever the text; they are judged
// again with the text when a Bind finds the rules changed. Only Query, Parse, Bind, Describe, Close and the
// results' framing are decoded; DataRow and the rest are forwarded as bytes.
// A transaction of a driver that binds parameters allocates nothing in
// pgmoat: Parse, Bind and Execute are decoded in place into reused
// messages (decode.go), the messages sent on for them are reused, the
// read that writes a batch (fused.go) keeps its state in the backend, and
// a borrower waiting for a busy pool reuses its waiter, channel and timer
// (waiters.go).
// A backend message is read whole into a reused 64 KiB buffer when it
// fits; a larger row, notice or notification streams through to the
// client in read-buffer-sized pieces, with no ceiling but the protocol's
// (the server's own limit is 1 GB per value), so memory does not follow
// value size; an ErrorResponse over 64 KiB (one quoting a huge value) is
// read field by field and cut to 64 KiB, the SQLSTATE and short fields
// whole and each long one cut at a character boundary with a note of how
// much was dropped; any other larger message pgmoat must decode gets a
// buffer of its own, dropped after use, up to PoolConfig.MaxMessageSize. A backend that
// fails inside a streamed message leaves the client a message cut short:
// its connection is closed. The Executor reads rows the same way and
// keeps at most its caller's byte budget (QueryBudget), reading and
// dropping the rest.
//
// pgmoat's own statements are a closed set of constant texts that carry
// no client text: the backend-role check (catalog reads on a new
// connection, before any client sees it), the settings injection
// (pg_catalog.set_config with the names and values as bind parameters,
// per session and per transaction), DISCARD ALL before a backend serves
// another identity, the ROLLBACK sent for a client that vanished
// mid-transaction, the syntax error that stands in for a refused
// statement (abort.go), and the frame of a slow-statement plan
// capture (BEGIN READ ONLY, forcing the generic plan for the transaction,
// EXPLAIN EXECUTE of the prepared statement with NULL for every
// parameter, ROLLBACK). They are not judged by the policy engine, which
// refuses set_config and EXECUTE to clients; every text that comes from
// a client or a tool, including the statement a plan capture explains,
// is.
package proxy
