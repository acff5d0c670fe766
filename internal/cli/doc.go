// Package cli holds the rolehop commands, as GitHub's gh shapes them: one
// file per command, each with an options struct, a NewCmdX(f, runF)
// constructor and a runX function. The Factory injects the I/O streams, the
// environment, the clock and the settings path, so every command runs
// in-process in tests; runF lets a test check flag parsing without running
// the command.
//
// The commands only wire library calls together: credentials come from
// source.Open (any profile) and the session package, files are written by
// awsfile, work over many roles runs through fanout, a child's environment
// comes from credenv. No AWS call is made here directly.
package cli
