package config

// Demo is the configuration `pgmoat demo` runs with: the demo identities
// the README's contracts name (alice, bob, dba and their tokens), against
// the given backend DSN.
func Demo(backendDSN string) *Config {
	c := &Config{
		Backend: Backend{DSN: Secret(backendDSN)},
		Users: map[string]User{
			"alice": {Password: "alice", UserID: "1", Profile: DefaultProfile},
			"bob":   {Password: "bob", UserID: "2", Profile: DefaultProfile},
		},
		MCP: MCP{Tokens: Tokens{
			"alice-token": {UserID: "1", Profile: DefaultProfile},
			"bob-token":   {UserID: "2", Profile: DefaultProfile},
		}},
		Admin: Admin{Users: map[string]AdminUser{"dba": {Password: "dba", Role: "admin"}}},
	}
	c.applyDefaults()
	return c
}
