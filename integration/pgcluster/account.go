package pgcluster

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// ServerAccount is the OS account server processes run as: initdb and
// postgres here, PgBouncer for the tests and benchmarks that start one
// (all three refuse root). A nil credential means "the current user",
// which is what happens when the process is not root.
type ServerAccount struct {
	cred *syscall.Credential
}

// LookupServerAccount picks the account the server processes run as:
// the current user, or the "postgres" account when running as root.
func LookupServerAccount() (ServerAccount, error) {
	if os.Geteuid() != 0 {
		return ServerAccount{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return ServerAccount{}, fmt.Errorf("running as root, PostgreSQL and PgBouncer must run as another account and there is no "+
			"\"postgres\" account (create one with `useradd --system postgres`, or run as a non-root user): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return ServerAccount{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// Credential is what a command's SysProcAttr.Credential needs to run as
// the account; nil for the current user.
func (a ServerAccount) Credential() *syscall.Credential { return a.cred }

// Own hands path (and everything under it) to the account.
func (a ServerAccount) Own(path string) error {
	if a.cred == nil {
		return nil
	}
	return filepath.Walk(path, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(a.cred.Uid), int(a.cred.Gid))
	})
}

// command builds a command that runs as the account. Pdeathsig makes the
// kernel kill the server if this process dies without calling Close, so a
// crashed test run leaves no postmaster behind.
func (a ServerAccount) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: a.cred,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	return cmd
}
