package proxy

import (
	"runtime"
	"testing"
	"time"

	"github.com/pgmoat/pgmoat/policy"
)

// Sessions that agree on identity, startup parameters and engine
// generation share one sessionSettings; any difference gets its own; an
// entry nobody holds any more is dropped.
func TestSettingsCacheSharesAndForgets(t *testing.T) {
	t.Parallel()
	var c settingsCache
	built := 0
	build := func() *sessionSettings { built++; return &sessionSettings{key: "k"} }
	alice := policy.Identity{UserID: "1", Profile: "readonly"}
	a1 := c.get(1, alice, map[string]string{"TimeZone": "UTC"}, nil, build)
	a2 := c.get(1, alice, map[string]string{"TimeZone": "UTC"}, nil, build)
	if a1 != a2 || built != 1 {
		t.Fatalf("same identity and parameters: shared %v, built %d", a1 == a2, built)
	}
	for _, other := range []struct {
		name   string
		gen    uint64
		id     policy.Identity
		client map[string]string
		sets   map[string]string
	}{
		{"another user", 1, policy.Identity{UserID: "2", Profile: "readonly"}, map[string]string{"TimeZone": "UTC"}, nil},
		{"another profile", 1, policy.Identity{UserID: "1", Profile: "patient"}, map[string]string{"TimeZone": "UTC"}, nil},
		{"another parameter value", 1, alice, map[string]string{"TimeZone": "Europe/Paris"}, nil},
		{"no parameter", 1, alice, nil, nil},
		{"another generation", 2, alice, map[string]string{"TimeZone": "UTC"}, nil},
		// Field boundaries are part of the key: "1\x00" + "2" is not "12".
		{"a user id that runs into the profile", 1, policy.Identity{UserID: "1readonly", Profile: ""}, map[string]string{"TimeZone": "UTC"}, nil},
		// A value chosen with SET is part of the key, and not the same
		// as the startup parameter of that name.
		{"a client setting", 1, alice, map[string]string{"TimeZone": "UTC"}, map[string]string{"DateStyle": "German"}},
		{"the startup parameter as a client setting", 1, alice, nil, map[string]string{"TimeZone": "UTC"}},
	} {
		if got := c.get(other.gen, other.id, other.client, other.sets, build); got == a1 {
			t.Errorf("%s shares alice's settings", other.name)
		}
	}
	runtime.KeepAlive(a1)
	a1, a2 = nil, nil
	waitUntil(t, 10*time.Second, "no entry cached after every holder is gone", func() bool {
		runtime.GC()
		return c.size() == 0
	})
}
