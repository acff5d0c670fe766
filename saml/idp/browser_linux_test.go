package idp

import "testing"

func TestHasArg(t *testing.T) {
	arg := []byte("--user-data-dir=/p/a")
	for cmdline, want := range map[string]bool{
		"chromium\x00--user-data-dir=/p/a\x00about:blank": true,
		"chromium --type=zygote --user-data-dir=/p/a --x": true,
		"chromium --user-data-dir=/p/a":                   true,
		"chromium --user-data-dir=/p/ab":                  false,
		"chromium --user-data-dir=/p/a/b":                 false,
		"x--user-data-dir=/p/a":                           false,
	} {
		if got := hasArg([]byte(cmdline), arg); got != want {
			t.Errorf("hasArg(%q) = %v, want %v", cmdline, got, want)
		}
	}
}
