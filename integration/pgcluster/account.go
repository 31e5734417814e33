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

// serverAccount is the OS account initdb and postgres run as. A nil
// credential means "the current user", which is what happens when the
// process is not root.
type serverAccount struct {
	cred *syscall.Credential
}

// lookupServerAccount picks the account the server processes run as:
// the current user, or the "postgres" account when running as root.
func lookupServerAccount() (serverAccount, error) {
	if os.Geteuid() != 0 {
		return serverAccount{}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return serverAccount{}, fmt.Errorf("running as root, PostgreSQL must run as another account and there is no "+
			"\"postgres\" account (create one with `useradd --system postgres`, or run as a non-root user): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return serverAccount{cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

// own hands path (and everything under it) to the account.
func (a serverAccount) own(path string) error {
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
func (a serverAccount) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: a.cred,
		Pdeathsig:  syscall.SIGKILL,
		Setpgid:    true,
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	return cmd
}
