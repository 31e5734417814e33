package main

import (
	"fmt"
	"io"

	"github.com/pgmoat/pgmoat/cmd/pgmoat/config"
	"github.com/pgmoat/pgmoat/cmd/pgmoat/live"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
	"github.com/pgmoat/pgmoat/policy"
)

// admittedTools generates the tools of snap and keeps those the policy
// allows for profile, judged as the running server judges them: online
// function catalog, readable schemas from the role's USAGE. left names
// every relation without a tool and why, the unreadable ones included.
func admittedTools(cfg *config.Config, snap *introspect.Snapshot, profile string) (set *mcp.ToolSet, left []mcp.LeftOut, err error) {
	full, err := mcp.Generate(snap, cfg.ToolOptions())
	if err != nil {
		return nil, nil, err
	}
	engine, err := policy.New(policy.Options{Profiles: live.OnlineProfiles(cfg, snap), Functions: live.Catalog{Snap: snap}})
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	usable := snap.UsableSchemas()
	for _, r := range snap.Relations {
		switch {
		case !usable[r.Schema]:
			left = append(left, mcp.LeftOut{Relation: r.QualifiedName(), Reason: fmt.Sprintf("the backend role has no USAGE on schema %s", r.Schema)})
		case !r.Selectable:
			left = append(left, mcp.LeftOut{Relation: r.QualifiedName(), Reason: "the backend role may not SELECT it"})
		}
	}
	admitted, refused := mcp.Admit(full, engine, policy.Identity{Profile: profile})
	for _, l := range refused {
		if usable[l.Relation.Schema] {
			left = append(left, l)
		}
	}
	return full.Only(admitted), left, nil
}

// writeLeftOut prints the relations without a tool for profile.
func writeLeftOut(w io.Writer, profile string, left []mcp.LeftOut) {
	if len(left) == 0 {
		return
	}
	fmt.Fprintf(w, "\nLeft out for profile %s (%d):\n", profile, len(left))
	for _, l := range left {
		name := l.Relation.String()
		if l.Tool != "" {
			name += " (" + l.Tool + ")"
		}
		fmt.Fprintf(w, "  - %s: %s\n", name, l.Reason)
	}
}
