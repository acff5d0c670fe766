package cli

import "runtime/debug"

// BuildVersion is a program's version: ldflags (set with -ldflags
// "-X main.version=..."), else the module version `go install` recorded,
// else "dev".
func BuildVersion(ldflags string) string {
	if ldflags != "" {
		return ldflags
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
