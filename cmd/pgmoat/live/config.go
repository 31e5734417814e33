package live

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/policy"
	"github.com/pgmoat/pgmoat/proxy"
)

// Config is the configuration in force while serve runs. RELOAD and
// SIGHUP re-read the file it came from: what can change live is applied,
// the rest waits for a restart and is reported.
type Config struct {
	profiles  *Profiles
	changed   func()
	logValues func([]string)
	schema    func(context.Context) (string, error)
	authRows  func() [][2]string
	proxy     *proxy.Server // nil until Attach

	mu    sync.Mutex // one reload at a time
	state atomic.Pointer[configState]
}

// configState is the config in force and the changes in its file that
// need a restart. Never written after it is published.
type configState struct {
	cfg     *config.Config
	pending []string
}

// Options are what a reload changes besides the proxy's logins.
type Options struct {
	Profiles *Profiles // the engine's profiles, checked before anything is swapped
	// ProfilesChanged runs after new profiles are in force: the MCP door
	// tells its sessions to list their tools again (nil: nothing).
	ProfilesChanged func()
	// LogValues puts a new mcp.log_values in force (nil: nothing logs values).
	LogValues func([]string)
	// Schema re-reads the catalog after the config and says what changed;
	// nil when no schema is loaded (MCP does not serve).
	Schema func(context.Context) (string, error)
	// AuthRows is the MCP authenticator's live state for SHOW CONFIG (the
	// provider's keys); nil adds nothing.
	AuthRows func() [][2]string
}

// New puts cfg in force.
func New(cfg *config.Config, o Options) *Config {
	l := &Config{profiles: o.Profiles, changed: o.ProfilesChanged, logValues: o.LogValues, schema: o.Schema, authRows: o.AuthRows}
	l.state.Store(&configState{cfg: cfg})
	return l
}

// Attach makes reloads swap srv's logins. The proxy is built with Rows
// and Reload as admin commands, so it is attached once built, before it
// serves.
func (l *Config) Attach(srv *proxy.Server) { l.proxy = srv }

// Rows is SHOW CONFIG: the config in force, and the keys whose new values
// wait for a restart.
func (l *Config) Rows() [][2]string {
	st := l.state.Load()
	rows := st.cfg.Rows()
	if l.authRows != nil {
		rows = append(rows, l.authRows()...)
	}
	if len(st.pending) > 0 {
		rows = append(rows, [2]string{"restart_pending", strings.Join(st.pending, ", ")})
	}
	return rows
}

// Reload re-reads the config file (when serve was started from one) and
// then the schema, and says what changed. A file that does not load
// changes nothing.
func (l *Config) Reload(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	configPart, err := l.reloadConfig()
	if err != nil {
		return "", err
	}
	if l.schema == nil {
		return configPart + "; schema: not loaded (MCP is not serving)", nil
	}
	schema, err := l.schema(ctx)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s; schema not reloaded: %w", configPart, err)
	case !strings.HasPrefix(schema, "schema"):
		schema = "schema: " + schema
	}
	return configPart + "; " + schema, nil
}

// reloadConfig applies the file's live-changeable settings and returns
// the config part of the summary.
func (l *Config) reloadConfig() (string, error) {
	running := l.state.Load().cfg
	if running.Path == "" {
		return "config: not read from a file", nil
	}
	file, err := config.Load(running.Path)
	if err != nil {
		return "", fmt.Errorf("config not reloaded, the running one stays in force: %w", err)
	}
	next := liveParts(running, file)
	applied := config.Changed(running, next)
	if err := l.apply(running, next, applied); err != nil {
		return "", fmt.Errorf("config not reloaded, the running one stays in force: %w", err)
	}
	pending := config.Changed(next, file)
	l.state.Store(&configState{cfg: next, pending: pending})
	return configSummary(applied, pending), nil
}

// liveParts is the running config with the settings that can change
// without a restart taken from file: profiles, proxy users, admin users
// and mcp.log_values. Everything else (listeners, backend, pool, TLS,
// MCP tokens and tools, ...) needs a restart; config.Changed between the
// result and file names it.
func liveParts(running, file *config.Config) *config.Config {
	next := *running
	next.Profiles = file.Profiles
	next.Users = file.Users
	next.Admin.Users = file.Admin.Users
	next.MCP.LogValues = file.MCP.LogValues
	return &next
}

// apply puts next in force, or nothing when any part is refused: the
// profiles are compiled first, then the logins swapped (the step that
// can fail), then the profiles. Between the two swaps a new user whose
// profile is new is denied, never let through.
func (l *Config) apply(running, next *config.Config, applied []string) error {
	if len(applied) == 0 {
		return nil
	}
	if err := l.profiles.Check(next); err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	if l.proxy != nil {
		if err := l.proxy.Reconfigure(ProxyLogins(next)); err != nil {
			return err
		}
	}
	if slices.Contains(applied, "profiles") {
		if err := l.profiles.SetConfig(next); err != nil {
			if l.proxy != nil {
				_ = l.proxy.Reconfigure(ProxyLogins(running)) // in force until now: accepted again
			}
			return fmt.Errorf("profiles: %w", err)
		}
		if l.changed != nil {
			l.changed()
		}
	}
	if l.logValues != nil {
		l.logValues(next.MCP.LogValues)
	}
	return nil
}

// ProxyLogins are the proxy's users, admin users and profile names from
// cfg.
func ProxyLogins(cfg *config.Config) proxy.Reconfig {
	users := map[string]proxy.User{}
	for name, u := range cfg.Users {
		users[name] = proxy.User{Password: u.Password.Value(), Identity: policy.Identity{UserID: u.UserID, Profile: u.Profile}}
	}
	admins := map[string]proxy.AdminUser{}
	for name, a := range cfg.Admin.Users {
		admins[name] = proxy.AdminUser{Password: a.Password.Value(), Role: a.Role}
	}
	profiles := make([]string, 0, len(cfg.Profiles))
	for name := range cfg.Profiles {
		profiles = append(profiles, name)
	}
	sort.Strings(profiles)
	return proxy.Reconfig{Users: users, Admins: admins, Profiles: profiles}
}

// configSummary is the config part of RELOAD's answer, e.g.
// "config: profiles, users changed; needs restart: proxy.listen".
func configSummary(applied, pending []string) string {
	s := "config: unchanged"
	if len(applied) > 0 {
		s = "config: " + strings.Join(applied, ", ") + " changed"
	}
	if len(pending) > 0 {
		s += "; needs restart: " + strings.Join(pending, ", ")
	}
	return s
}
