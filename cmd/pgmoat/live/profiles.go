package live

import (
	"sort"
	"sync"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/policy"
)

// Profiles keeps the engine's profiles in step with two inputs that
// change independently: the config in force (RELOAD) and the schemas the
// backend role holds USAGE on (each catalog snapshot). A profile that
// configures no allow_schemas reads, online, every schema the role may
// use — the database is the authorization layer —; offline, before any
// snapshot, it reads public alone, policy's default.
type Profiles struct {
	engine *policy.Engine

	mu   sync.Mutex // one swap at a time, so neither input's update is lost
	cfg  *config.Config
	snap *introspect.Snapshot // nil: offline
}

// OnlineProfiles is cfg's profiles with the readable schemas of snap
// (nil: offline) filled in where the config leaves them unset.
func OnlineProfiles(cfg *config.Config, snap *introspect.Snapshot) map[string]policy.Profile {
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

// Check reports whether SetConfig(cfg) would be accepted.
func (s *Profiles) Check(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return policy.CheckProfiles(OnlineProfiles(cfg, s.snap))
}

// SetConfig puts cfg's profiles in force, with the current schemas.
func (s *Profiles) SetConfig(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.engine.SetProfiles(OnlineProfiles(cfg, s.snap)); err != nil {
		return err
	}
	s.cfg = cfg
	return nil
}

// SetSnapshot follows a new catalog snapshot: its function catalog, and
// its readable schemas when they changed.
func (s *Profiles) SetSnapshot(snap *introspect.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.engine.SetFunctions(Catalog{snap})
	same := s.snap != nil && equalSets(s.snap.UsableSchemas(), snap.UsableSchemas())
	s.snap = snap
	if same {
		return nil
	}
	return s.engine.SetProfiles(OnlineProfiles(s.cfg, snap))
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

// NewProfiles follows cfg's profiles, offline until SetSnapshot.
func NewProfiles(engine *policy.Engine, cfg *config.Config) *Profiles {
	return &Profiles{engine: engine, cfg: cfg}
}
