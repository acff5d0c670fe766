//go:build !linux

package testpeer

import "syscall"

// peerProcAttr: only Linux can tie a child's life to its parent; elsewhere
// peers are stopped by Stop and t.Cleanup.
func peerProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
