package fleet

import "syscall"

// sysProcAttr: a process group of its own, killed when rolehop dies (even
// by SIGKILL), so no command outlives an interrupted run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
