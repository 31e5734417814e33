package reload

import (
	"sort"
	"sync"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// profileSync keeps the engine's profiles in step with two inputs that
// change independently: the config in force (RELOAD) and the schemas the
// backend role holds USAGE on (each catalog snapshot). A profile that
// configures no allow_schemas reads, online, every schema the role may
// use — the database is the authorization layer —; offline, before any
// snapshot, it reads public alone, policy's default.
type profileSync struct {
	engine *policy.Engine

	mu   sync.Mutex // one swap at a time, so neither input's update is lost
	cfg  *config.Config
	snap *introspect.Snapshot // nil: offline
}

// onlineProfiles is cfg's profiles with the readable schemas of snap
// (nil: offline) filled in where the config leaves them unset.
func onlineProfiles(cfg *config.Config, snap *introspect.Snapshot) map[string]policy.Profile {
	profiles := cfg.PolicyOptions().Profiles
	if snap == nil {
		return profiles
	}
	var usable []string
	for name := range snap.UsableSchemas() {
		usable = append(usable, name)
	}
	sort.Strings(usable)
	if len(usable) == 0 {
		// No user schema at all: pg_catalog, which is readable anyway,
		// keeps policy from falling back to public.
		usable = []string{"pg_catalog"}
	}
	for name, p := range profiles {
		if len(p.AllowSchemas) == 0 {
			p.AllowSchemas = usable
			profiles[name] = p
		}
	}
	return profiles
}

// check reports whether setConfig(cfg) would be accepted.
func (s *profileSync) check(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return policy.CheckProfiles(onlineProfiles(cfg, s.snap))
}

// setConfig puts cfg's profiles in force, with the current schemas.
func (s *profileSync) setConfig(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.engine.SetProfiles(onlineProfiles(cfg, s.snap)); err != nil {
		return err
	}
	s.cfg = cfg
	return nil
}

// setSnapshot follows a new catalog snapshot: its function catalog, and
// its readable schemas when they changed.
func (s *profileSync) setSnapshot(snap *introspect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine.SetFunctions(onlineCatalog{snap})
	same := s.snap != nil && equalSets(s.snap.UsableSchemas(), snap.UsableSchemas())
	s.snap = snap
	if same {
		return nil
	}
	return s.engine.SetProfiles(onlineProfiles(s.cfg, snap))
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// profileSyncFor is the process's profileSync when serve set one up (the
// proxy door and RELOAD share it), else a new one for cfg and engine.
func profileSyncFor(obs *observers, cfg *config.Config, engine *policy.Engine) *profileSync {
	if obs != nil && obs.profiles != nil {
		return obs.profiles
	}
	return &profileSync{engine: engine, cfg: cfg}
}
