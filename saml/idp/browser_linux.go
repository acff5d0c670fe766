package idp

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hasArg reports whether a /proc/PID/cmdline holds arg as one argument.
// Chrome's helpers rewrite their command line into one space-separated
// string, so a space ends an argument too (the profile path is checked to
// hold none, see killProfileProcesses).
func hasArg(cmdline, arg []byte) bool {
	for i := 0; ; {
		j := bytes.Index(cmdline[i:], arg)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(arg)
		before := start == 0 || cmdline[start-1] == 0 || cmdline[start-1] == ' '
		after := end == len(cmdline) || cmdline[end] == 0 || cmdline[end] == ' '
		if before && after {
			return true
		}
		i = start + 1
	}
}

// killProfileProcesses kills every process still running with the profile
// folder as its --user-data-dir: Chrome's helpers (zygote, renderers,
// network service) can outlive a killed browser process for a moment. Only
// processes of this user with exactly that argument are touched; the
// profile's lock keeps any other rolehop from using it meanwhile. It looks
// until it has seen none for a few passes (at most 2s).
func killProfileProcesses(dir string) {
	if strings.ContainsAny(dir, " \x00") {
		// A space would make the match ambiguous in a rewritten command
		// line: rely on the parent-death signal alone.
		return
	}
	want := []byte("--user-data-dir=" + dir)
	self := os.Getpid()
	deadline := time.Now().Add(2 * time.Second)
	for quiet := 0; quiet < 3 && time.Now().Before(deadline); {
		n := 0
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			if hasArg(cmdline, want) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				n++
			}
		}
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(10 * time.Millisecond)
	}
}
