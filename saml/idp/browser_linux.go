package idp

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// killProfileProcesses kills every process still running with the profile
// folder as its --user-data-dir: Chrome's helpers (zygote, renderers,
// network service) can outlive a killed browser process for a moment. Only
// processes of this user with exactly that argument are touched; the
// profile's lock keeps any other rolehop from using it meanwhile. It looks
// until it has seen none for a few passes (at most 2s).
func killProfileProcesses(dir string) {
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
			for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
				if bytes.Equal(arg, want) {
					_ = syscall.Kill(pid, syscall.SIGKILL)
					n++
					break
				}
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
