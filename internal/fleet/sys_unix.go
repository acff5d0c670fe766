//go:build unix

package fleet

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// checkOwned refuses a path that is a symlink or not owned by this user
// (another local user must not plant a journal or folder we then trust).
func checkOwned(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink; remove it or choose another path", ErrJournal, path)
	}
	if s, ok := st.Sys().(*syscall.Stat_t); ok && int(s.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s belongs to another user (uid %d); choose another path", ErrJournal, path, s.Uid)
	}
	return nil
}

func openNoFollow(path string, flag int) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
}

// startGroup puts the command in a process group of its own, so that a
// signal reaches everything it started and the terminal's Ctrl-C reaches
// rolehop alone (which then stops the commands in order).
func startGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = sysProcAttr()
}

// signalGroup sends sig to the command's process group.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, sig)
	}
}

func terminate(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }
func kill(cmd *exec.Cmd)      { signalGroup(cmd, syscall.SIGKILL) }

// exitCode returns the status of a command that ended (128+N when signal N
// killed it).
func exitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}
