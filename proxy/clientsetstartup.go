package proxy

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

// PostgreSQL puts a login's startup parameters in force before it
// answers the login: the client is told a TimeZone as the server spells
// it ("europe/paris" is Europe/Paris, "+05" is <+05>-05), and a value
// the server refuses (a zone it does not know, DateStyle=bogus,
// extra_float_digits=99) ends the login with FATAL 22023. pgmoat spells
// and checks what it can itself (canonicalStartups); the rest, a zone
// other than the server's own above all, only a server can, so a
// backend is asked (checkOnBackend, as for SET TimeZone) under the name
// the client typed, which the server's refusal names as PostgreSQL's
// does. A zone's answer is kept (zoneSpellings): later logins with the
// same zone ask nothing. A login waits for that backend startupWait at
// most, so a full pool does not hold logins up: past it, or when the
// check fails for another reason than the value, the value is taken as
// typed, and the server judges it at the session's first statement
// (settings.refused).

// startupWait bounds how long a login waits for a backend to check its
// startup parameters.
const startupWait = time.Second

// maxZoneSpellings bounds zoneSpellings; past it the record starts
// afresh. Clients use a handful of zones.
const maxZoneSpellings = 256

// zoneSpellings records the server's spelling of the zones logins gave,
// as typed; safe for concurrent use, usable at its zero value. Only
// zones the server took are recorded.
type zoneSpellings struct {
	mu    sync.Mutex
	known map[string]string
}

func (z *zoneSpellings) get(typed string) (string, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	v, ok := z.known[typed]
	return v, ok
}

func (z *zoneSpellings) put(typed, spelled string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.known == nil || len(z.known) >= maxZoneSpellings {
		z.known = map[string]string{}
	}
	z.known[typed] = spelled
}

// uncheckedStartup reports whether only a server can tell whether the
// startup value v of name (after canonicalStartups) is valid, or spell
// it. server is the server's value of name.
func uncheckedStartup(name, v, server string) bool {
	switch name {
	case "TimeZone":
		return v != server
	case "DateStyle":
		return !validDateStyle(v)
	case "IntervalStyle":
		return !intervalStyles[v]
	case "extra_float_digits":
		n, err := strconv.Atoi(v)
		return err != nil || n < -15 || n > 3
	}
	return false
}

// checkStartups puts the client's startup parameters that only a server
// can judge in its spelling, in place, or returns the FATAL of the first
// the server refuses. typed is the name the client gave each, server the
// server's parameters.
func (s *Server) checkStartups(id policy.Identity, client, typed, server map[string]string) *wireError {
	var todo []string
	for _, name := range []string{"DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits"} {
		v, ok := client[name]
		if !ok || !uncheckedStartup(name, v, server[name]) {
			continue
		}
		if name == "TimeZone" {
			if spelled, ok := s.zones.get(v); ok {
				client[name] = spelled
				continue
			}
		}
		todo = append(todo, name)
	}
	if len(todo) == 0 {
		return nil
	}
	// The wait alone is cut short (a token on stop), not the backend's
	// preparation or the check, which would leave it broken.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartupTimeout)
	defer cancel()
	stop := make(chan struct{}, 1)
	timer := time.AfterFunc(startupWait, func() { stop <- struct{}{} })
	others := maps.Clone(client)
	for _, name := range todo {
		delete(others, name) // applied at lending, it would be judged there
	}
	set := s.buildSessionSettings(s.engine.Generation(), id, others, nil)
	bk, err := s.lendFor(ctx, id, set, false, stop)
	timer.Stop()
	if err != nil {
		return nil // taken as typed
	}
	defer s.pool.release(bk)
	for _, name := range todo {
		v, e := checkOnBackend(ctx, bk, typedName(typed, name), client[name])
		switch {
		case e == nil:
			if name == "TimeZone" {
				s.zones.put(client[name], v)
			}
			client[name] = v
		case !bk.broken.Load():
			return e.asFatal() // the server refused the value
		default:
			return nil // the rest as typed
		}
	}
	return nil
}

// typedName is the name the client gave the parameter name, which
// PostgreSQL's refusal of an enum or a number names.
func typedName(typed map[string]string, name string) string {
	if t, ok := typed[name]; ok {
		return t
	}
	return name
}

// startupNames maps each allowed startup parameter of params, by
// PostgreSQL's spelling, to the name the client gave it.
func startupNames(params map[string]string) map[string]string {
	out := map[string]string{}
	for k := range params {
		if name := clientParams[strings.ToLower(k)]; name != "" {
			out[name] = k
		}
	}
	return out
}
