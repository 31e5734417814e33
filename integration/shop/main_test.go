package shop

import (
	"fmt"
	"os"
	"testing"

	"github.com/pgmoat/pgmoat/integration/pgcluster"
	"go.uber.org/goleak"
)

// cluster is shared by every test of the package; tests take their own
// databases from it.
var cluster *pgcluster.Cluster

func TestMain(m *testing.M) {
	code := pgcluster.Shared(m, pgcluster.Options{}, &cluster)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
