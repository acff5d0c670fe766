// Package duration reads durations as rolehop's files and flags spell them:
// Go's syntax ("1h", "90m", "1h30m") or a whole number of seconds ("3600"),
// the two ways AWS tools write one.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads s. Negative values are errors; the range a use allows (900 s
// to 12 h for AssumeRole) is checked where it is used. An empty string is
// an error; callers that treat "" as unset check for it first.
func Parse(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(1<<62/time.Second) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("duration %q: want a duration like 1h, 90m or a number of seconds", clip(s))
	}
	return d, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
