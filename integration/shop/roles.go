package shop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/xdg-go/scram"
)

// scramIterations matches PostgreSQL's default scram_iterations.
const scramIterations = 4096

// ensureRoles creates OwnerRole and ReaderRole when missing, forces their
// attributes and sets the reader's password. Roles are cluster-wide, so
// concurrent loads into sibling databases take turns through a lock on
// pg_authid; logins and catalog reads are not blocked by it.
func ensureRoles(ctx context.Context, conn *pgx.Conn, password string) error {
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("shop: lock roles: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('shop.reader_verifier', $1, true)", verifier); err != nil {
			return fmt.Errorf("shop: pass reader verifier: %w", err)
		}
		if err := execScript(ctx, conn, "roles.sql"); err != nil {
			return fmt.Errorf("shop: roles: %w", err)
		}
		return nil
	})
}

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for
// password, the way psql's \password does, so the server never sees the
// password itself.
func scramVerifier(password string) (string, error) {
	client, err := scram.SHA256.NewClient("", password, "")
	if err != nil {
		return "", fmt.Errorf("shop: reader password: %w", err)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("shop: salt: %w", err)
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: string(salt), Iters: scramIterations})
	if err != nil {
		return "", fmt.Errorf("shop: reader verifier: %w", err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s",
		scramIterations, b64(salt), b64(creds.StoredKey), b64(creds.ServerKey)), nil
}
