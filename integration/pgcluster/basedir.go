package pgcluster

import (
	"os"
	"syscall"
)

// Where clusters live. A cluster is a thousand small files written at
// start (the initdb copy, or pg_basebackup's for a replica) and deleted
// at Close, dozens of times in a test run. On ext4 most of that time is
// the kernel's inode allocator searching bitmaps for an inode that was
// not just freed: measured on a two-core machine, a replica took about
// three seconds to make in the temporary directory and a third of a
// second in memory, and system time was half the CPU of the proxy's
// tests. The data is thrown away anyway, so clusters go to a memory file
// system when the machine has a roomy one, and to the temporary
// directory otherwise.

// memDir is the memory file system tried first.
const memDir = "/dev/shm"

// memDirMinFree is how much room memDir must have left to be used: a
// cluster takes tens of megabytes, and a small /dev/shm (64 MiB in a
// default container) is also where PostgreSQL puts its dynamic shared
// memory, which must not run out.
const memDirMinFree = 4 << 30

// tmpfsMagic is the f_type statfs reports for tmpfs.
const tmpfsMagic = 0x01021994

// baseDir is the directory cluster directories and the initdb cache are
// made in: the temporary directory when TMPDIR names one (the user's
// choice wins), else memDir when it is a tmpfs this process may write
// with memDirMinFree left, else the temporary directory.
func baseDir() string {
	if os.Getenv("TMPDIR") == "" && roomyMemDir(memDir) {
		return memDir
	}
	return os.TempDir()
}

func roomyMemDir(dir string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != tmpfsMagic {
		return false
	}
	const writable = 2 // W_OK
	return uint64(st.Bavail)*uint64(st.Bsize) >= memDirMinFree && syscall.Access(dir, writable) == nil
}
