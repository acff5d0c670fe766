package session

import "testing"

// SetTestHookJoined installs fn as the hook called when a caller joins a
// credential fetch in flight, and removes it when t ends.
func SetTestHookJoined(t *testing.T, fn func(key string)) {
	t.Helper()
	testHookJoined = fn
	t.Cleanup(func() { testHookJoined = nil })
}
