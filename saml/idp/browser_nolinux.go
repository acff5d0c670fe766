//go:build !linux

package idp

// killProfileProcesses: on other systems the browser's helpers end with it.
func killProfileProcesses(string) {}
