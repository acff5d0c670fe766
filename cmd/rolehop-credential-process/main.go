// Command rolehop-credential-process is the warm path of `rolehop
// credential-process`, for the credential_process setting of AWS profiles:
//
//	[profile prod]
//	credential_process = rolehop-credential-process --profile prod
//
// It takes the same arguments (--profile NAME, --region R, --duration D)
// and prints the same Version 1 JSON, byte for byte. The AWS CLI and the
// SDKs run credential_process every time they need credentials, so this
// program does only what a warm call needs and links neither the AWS SDK
// nor the CLI's command and terminal libraries (a test keeps it so): it
// starts about as fast as any Go program can.
//
// It serves a rolehop source (rolehop_* keys) whose credentials are in
// rolehop's on-disk cache and fresh (more than 15 minutes left): it reads
// the AWS config file (awsfile, with every check the full CLI makes), finds
// the source's chain and cache key (internal/sourcedef, shared with package
// source), and reads that one entry (internal/credfile, with credcache's
// trust checks: a private folder, a regular file of the user's with no
// group or other bits, opened without following a symlink or blocking).
// It remembers which entry a profile resolved to for the config file it
// read, so that while that file is unchanged a warm call only fstats it
// (resolved.go): the cost of a warm call does not grow with the config.
//
// Everything else it hands, with the same arguments and environment, to
// the full `rolehop credential-process`, which it execs (the process is
// replaced, so the AWS CLI sees one program): a cache miss or an entry due
// for refresh, an MFA or password prompt, a profile that is not a rolehop
// source, a malformed file, an entry or folder the full CLI would warn
// about, an argument it does not know. The full rolehop is looked for next
// to this program's own executable first, then on PATH; `go install
// github.com/rolehop/rolehop/cmd/...@latest` installs both side by side.
// If neither finds it, it prints one line saying so and exits 1.
package main

import (
	"os"
	"strings"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/credfile"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/internal/processdoc"
	"github.com/rolehop/rolehop/internal/program"
	"github.com/rolehop/rolehop/internal/sourcedef"
)

// fullName is the full CLI's program name.
const fullName = "rolehop"

// envChain is source.EnvChain: the profiles rolehop processes up the
// process tree are resolving.
const envChain = "ROLEHOP_SOURCE_CHAIN"

func main() {
	args := os.Args[1:]
	if doc, ok := serve(args, time.Now()); ok {
		if _, err := os.Stdout.Write(doc); err == nil {
			os.Exit(0)
		}
		os.Exit(1)
	}
	os.Exit(handOver(args))
}

// flags are the arguments the fast path understands.
type flags struct {
	profile  string
	duration time.Duration
}

// parseArgs reads --profile, --region and --duration (as "--f v" or
// "--f=v", each at most once); anything else is not for the fast path.
func parseArgs(args []string) (flags, bool) {
	var f flags
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(args[i], "=")
		switch name {
		case "--profile", "--region", "--duration":
		default:
			return flags{}, false
		}
		if seen[name] {
			return flags{}, false
		}
		seen[name] = true
		if !hasVal {
			if i+1 >= len(args) {
				return flags{}, false
			}
			i++
			val = args[i]
		}
		switch name {
		case "--profile":
			f.profile = val
		case "--duration":
			d, err := duration.Parse(val)
			if err != nil {
				return flags{}, false
			}
			f.duration = d
		}
		// --region changes nothing in the document.
	}
	return f, f.profile != ""
}

// serve returns the document for args when the cache holds fresh
// credentials for it, and false for anything the full CLI must do.
func serve(args []string, now time.Time) ([]byte, bool) {
	f, ok := parseArgs(args)
	if !ok {
		return nil, false
	}
	if chain := os.Getenv(envChain); chain != "" {
		for _, p := range strings.Split(chain, ",") {
			if p == f.profile {
				return nil, false // a cycle: the full CLI says so
			}
		}
	}
	cfgPath, err := awsfile.ConfigPath()
	if err != nil {
		return nil, false
	}
	dir, err := credfile.DefaultDir()
	if err != nil {
		return nil, false
	}
	// A resolution remembered for this very config file: no need to read it.
	name, named := recordName(cfgPath, f.profile, f.duration)
	if named {
		if id, err := awsfile.Identity(cfgPath); err == nil {
			if key, ok := loadRecord(dir, name, id.ID); ok {
				e, ok := credfile.Lookup(dir, key, now)
				if !ok {
					return nil, false
				}
				return encode(e)
			}
		}
	}
	snap, err := (&awsfile.File{Path: cfgPath, Kind: awsfile.Config}).Snapshot()
	if err != nil {
		return nil, false
	}
	def, err := sourcedef.Resolve(f.profile, snap.Profile, sourcedef.Options{ConfigFile: cfgPath, Duration: f.duration})
	id, idErr := snap.Identity()
	_ = snap.Close()
	if err != nil {
		return nil, false
	}
	if named && idErr == nil {
		saveRecord(dir, name, id, def.CacheKey, now)
	}
	e, ok := credfile.Lookup(dir, def.CacheKey, now)
	if !ok {
		return nil, false
	}
	return encode(e)
}

// encode is the document for a cache entry.
func encode(e credfile.Entry) ([]byte, bool) {
	doc, err := processdoc.Encode(e.AccessKeyID, e.SecretAccessKey, e.SessionToken, true, e.Expires)
	if err != nil {
		return nil, false
	}
	return doc, true
}

// handOver execs `rolehop credential-process ARGS`; it returns only when
// that fails.
func handOver(args []string) int {
	path, err := program.Find(fullName)
	if err != nil {
		os.Stderr.WriteString("rolehop-credential-process: " + err.Error() + "; install both with go install github.com/rolehop/rolehop/cmd/...@latest\n")
		return 1
	}
	code, err := run(path, append([]string{fullName, "credential-process"}, args...))
	if err != nil {
		os.Stderr.WriteString("rolehop-credential-process: cannot run " + path + ": " + err.Error() + "\n")
		return 1
	}
	return code
}
