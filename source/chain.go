package source

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// EnvChain lists, comma-separated, the profiles being resolved by rolehop
// processes up the process tree: a base profile's credential_process may run
// rolehop again, and a rolehop resolving a profile its parent is resolving
// would wait forever on its own cache lock. Open refuses such a profile with
// ErrCycle; while a profile's credentials are fetched, the processes the SDK
// starts inherit the chain with that profile added.
const EnvChain = "ROLEHOP_SOURCE_CHAIN"

// chainGuard is the process-wide set of profiles being fetched; the process
// environment (inherited by credential_process children) carries it.
var chainGuard struct {
	mu        sync.Mutex
	active    map[string]int // profile -> fetches in flight
	inherited string         // EnvChain before the first of them
}

// checkChain refuses profile when a parent rolehop is resolving it.
func checkChain(profile string, getenv func(string) string) error {
	chain := getenv(EnvChain)
	if chain == "" {
		return nil
	}
	names := strings.Split(chain, ",")
	if slices.Contains(names, profile) {
		return fmt.Errorf("%w: %s → %s through a credential_process; make the base of %q a profile that does not run rolehop for it",
			ErrCycle, strings.Join(names, " → "), profile, profile)
	}
	return nil
}

// enterChain records profile in EnvChain for the processes started while
// its credentials are fetched, until leave is called. Concurrent fetches of
// several profiles in one process share the variable: it lists all of them.
func enterChain(profile string) (leave func()) {
	g := &chainGuard
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.active) == 0 {
		g.inherited = os.Getenv(EnvChain)
		g.active = map[string]int{}
	}
	g.active[profile]++
	setChainLocked()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.active[profile]--; g.active[profile] == 0 {
			delete(g.active, profile)
		}
		setChainLocked()
	}
}

func setChainLocked() {
	g := &chainGuard
	var names []string
	if g.inherited != "" {
		names = strings.Split(g.inherited, ",")
	}
	for p := range g.active {
		names = append(names, p)
	}
	if len(g.active) == 0 && g.inherited != "" {
		_ = os.Setenv(EnvChain, g.inherited)
		return
	}
	if len(names) == 0 {
		_ = os.Unsetenv(EnvChain)
		return
	}
	slices.Sort(names[len(names)-len(g.active):])
	_ = os.Setenv(EnvChain, strings.Join(names, ","))
}
