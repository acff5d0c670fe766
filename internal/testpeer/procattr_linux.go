package testpeer

import "syscall"

// peerProcAttr makes a peer die with the test binary (no orphaned MinIO or
// php after a killed test run).
func peerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
