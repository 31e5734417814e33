package mcp_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"github.com/pgmoat/pgmoat/integration/shop"
	"github.com/pgmoat/pgmoat/introspect"
	"github.com/pgmoat/pgmoat/mcp"
)

// TestGoldenCatalog pins the tools generated for a schema that exercises
// every index kind, type family and awkward name.
func TestGoldenCatalog(t *testing.T) {
	t.Parallel() // a database of its own
	// The same awkward catalog introspect's own tests load.
	snap := liveSnapshot(t, readFile(t, filepath.Join("..", "..", "introspect", "testdata", "catalog.sql")))
	set, err := mcp.Generate(snap, mcp.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var js, txt bytes.Buffer
	if err := set.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := set.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "catalog.json", js.Bytes())
	golden(t, "catalog.txt", txt.Bytes())
	checkTokenFile(t, "catalog", set)
}

// TestGoldenShop pins the tools of the demo database as its backend role
// sees them. Review testdata/golden/shop.txt after -update: it is what an
// LLM reads.
func TestGoldenShop(t *testing.T) {
	t.Parallel() // a database of its own
	if testing.Short() {
		t.Skip("loads the shop database")
	}
	cluster := liveCluster(t)
	db := pgcluster.NewDatabase(t, cluster)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := shop.Load(ctx, cluster.DSN(db), shop.Options{Scale: 1}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, cluster.DSNFor(shop.ReaderRole, shop.DefaultReaderPassword, db))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	snap, err := introspect.Load(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	set, err := mcp.Generate(snap, mcp.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var js, txt bytes.Buffer
	if err := set.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := set.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "shop.json", js.Bytes())
	golden(t, "shop.txt", txt.Bytes())
	checkTokenFile(t, "shop", set)
}
