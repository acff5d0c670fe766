package fleet

import (
	"fmt"
	"os"
	"os/exec"
)

func checkOwned(path string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink; remove it or choose another path", ErrJournal, path)
	}
	return nil
}

func openNoFollow(path string, flag int) (*os.File, error) { return os.OpenFile(path, flag, 0o600) }

func startGroup(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func kill(cmd *exec.Cmd) { terminate(cmd) }

func exitCode(st *os.ProcessState) int { return st.ExitCode() }
