package ecsserver

import "time"

// SetTimingForTest shortens the idle timeout and the refusal warning
// interval for the next New; it returns a function that restores them.
func SetTimingForTest(idle, warn time.Duration) (restore func()) {
	oldIdle, oldWarn := idleTimeout, warnEvery
	idleTimeout, warnEvery = idle, warn
	return func() { idleTimeout, warnEvery = oldIdle, oldWarn }
}

// OpenConns is the number of connections s holds open.
func OpenConns(s *Server) int { return s.ln.open() }
