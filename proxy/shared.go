package proxy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmoat/pgmoat/policy"
)

// sessionSettings is what a session's backends carry for it: built from
// the identity, the profile as one engine generation has it and the
// client's startup parameters, and never modified after. Sessions that
// agree on all three share one value, so ten thousand clients of one
// user hold one copy of the settings, their key and the encoded
// per-transaction messages, not ten thousand.
type sessionSettings struct {
	gen uint64
	// client holds the startup parameters the client may set; the
	// settings are rebuilt from them and the profile whenever the
	// engine's profiles change, so a reload reaches running sessions.
	client map[string]string
	// sets are the client settings the client chose with SET since
	// (canonical name to value, clientset.go): they travel with every
	// transaction (set_config(..., true)), never into a backend's
	// session, so none outlives a lending.
	sets     map[string]string
	settings settings
	key      string // settings.key(), for the pool
	who      string // identityKey of the identity, for the pool
	// local is what every transaction sets for itself (settings.local);
	// localWire is its messages encoded, localExpect what they are owed.
	local       settings
	localWire   []byte
	localExpect []expectation
	// stmtSalt names the settings in force that change how the server
	// reads a statement's text (statementSalt); "" when the server's
	// defaults are.
	stmtSalt string
}

// settingsCache hands out shared sessionSettings. It holds them weakly:
// an entry goes when the last session using it has gone, so neither
// reloads nor clients with ever new startup parameters make it grow.
type settingsCache struct {
	mu      sync.Mutex
	entries map[string]weak.Pointer[sessionSettings]
}

// get returns the shared settings for id under the engine generation
// gen, building them with build when nobody holds them.
func (c *settingsCache) get(gen uint64, id policy.Identity, client, sets map[string]string, build func() *sessionSettings) *sessionSettings {
	key := settingsCacheKey(gen, id, client, sets)
	c.mu.Lock()
	defer c.mu.Unlock()
	if wp, ok := c.entries[key]; ok {
		if ss := wp.Value(); ss != nil {
			return ss
		}
	}
	ss := build()
	wp := weak.Make(ss)
	if c.entries == nil {
		c.entries = map[string]weak.Pointer[sessionSettings]{}
	}
	c.entries[key] = wp
	runtime.AddCleanup(ss, c.forget, cacheEntry{key: key, wp: wp})
	return ss
}

type cacheEntry struct {
	key string
	wp  weak.Pointer[sessionSettings]
}

// forget drops an entry whose settings were collected, unless it was
// replaced meanwhile.
func (c *settingsCache) forget(e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[e.key] == e.wp {
		delete(c.entries, e.key)
	}
}

// size is the number of entries, for tests.
func (c *settingsCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// settingsCacheKey names everything a sessionSettings is built from
// that varies between sessions; the RLS setting's name and whether the
// pool is behind a pooler are the server's and fixed.
func settingsCacheKey(gen uint64, id policy.Identity, client, sets map[string]string) string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(gen, 10))
	for _, f := range []string{id.UserID, id.Profile} {
		writeKeyField(&b, f)
	}
	writeKeyMap(&b, client)
	b.WriteString("\x00sets") // no length prefix starts with a letter
	writeKeyMap(&b, sets)
	return b.String()
}

func writeKeyMap(b *strings.Builder, m map[string]string) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		writeKeyField(b, k)
		writeKeyField(b, m[k])
	}
}

func writeKeyField(b *strings.Builder, f string) {
	b.WriteByte(0)
	b.WriteString(strconv.Itoa(len(f)))
	b.WriteByte(':')
	b.WriteString(f)
}

// buildSessionSettings makes the settings of id under the engine's
// current profiles.
func (s *Server) buildSessionSettings(gen uint64, id policy.Identity, client, sets map[string]string) *sessionSettings {
	profile, _ := s.engine.Profile(id.Profile)
	ss := &sessionSettings{gen: gen, client: client, sets: sets}
	ss.settings = newSettings(s.cfg.RLSSetting, id.UserID, profile, client)
	ss.key = ss.settings.key()
	ss.who = identityKey(id)
	ss.local = ss.settings.local(s.cfg.RLSSetting, s.pool.cfg.BehindPooler).with(sets)
	ss.stmtSalt = statementSalt(client, sets)
	ss.localExpect, ss.localWire = injection(localMessages(ss.local, s.pool.cfg.BehindPooler))
	return ss
}

// injection is what sending msgs, pgmoat's own statements, takes: the
// wire bytes, and the expectations that swallow their answers.
func injection(msgs []pgproto3.FrontendMessage) (expects []expectation, wire []byte) {
	for _, m := range msgs {
		kind := expectExecute
		switch m.(type) {
		case *pgproto3.Parse:
			kind = expectParse
		case *pgproto3.Bind:
			kind = expectBind
		}
		expects = append(expects, expectation{kind: kind, swallow: true, injection: true})
		wire, _ = m.Encode(wire) // only a message over 1 GiB fails to encode
	}
	return expects, wire
}

// parseSettings are the client settings that change what the server
// makes of a statement's text when it parses it: a literal of a prepared
// statement is read once, at Parse ('01/02/2020'::date is a date in
// February under DateStyle DMY, in January under MDY; a timestamptz
// literal is read in the TimeZone; an interval in the IntervalStyle),
// and stays what it was read as.
var parseSettings = []string{"DateStyle", "IntervalStyle", "TimeZone"}

// statementSalt names the values of parseSettings a session's statements
// are parsed under, its SETs over its startup parameters; "" when it
// chose none. Sessions of one identity share a backend's server-side
// statements only when they agree on these, so no client binds a
// statement another read under other settings.
func statementSalt(client, sets map[string]string) string {
	var b strings.Builder
	for _, name := range parseSettings {
		v, ok := sets[name]
		if !ok {
			v, ok = client[name]
		}
		if ok {
			writeKeyField(&b, name)
			writeKeyField(&b, v)
		}
	}
	return b.String()
}

// statementName is the server-side name of a statement the session
// prepares: shared with every borrower that parses the same text with
// the same parameter types under the same parseSettings. Salted names
// have a prefix of their own, so they never meet an unsalted one.
func (ss *sessionSettings) statementName(query string, oids []uint32) string {
	if ss.stmtSalt == "" {
		return backendStatementName(query, oids)
	}
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(ss.stmtSalt)))
	h.Write(n[:])
	h.Write([]byte(ss.stmtSalt))
	h.Write([]byte(query))
	for _, o := range oids {
		h.Write(binary.BigEndian.AppendUint32(nil, o))
	}
	return "pgmoat_s_" + hex.EncodeToString(h.Sum(nil)[:12])
}
