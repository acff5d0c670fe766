package fanout

import (
	"testing"
)

func TestShardsAreDisjointAndCover(t *testing.T) {
	targets := Expand(accountIDs(500), []string{"eu-west-1", "us-east-1"})
	for _, n := range []int{1, 2, 3, 8} {
		seen := map[string]int{}
		shardOf := map[string]int{}
		for i := range n {
			part := Shard(targets, i, n)
			if n > 1 && (len(part) < len(targets)/n/2 || len(part) > len(targets)/n*2) {
				t.Errorf("%d/%d holds %d of %d targets: badly balanced", i, n, len(part), len(targets))
			}
			for _, tg := range part {
				seen[tg.Key()]++
				if s, ok := shardOf[tg.Account]; ok && s != i {
					t.Errorf("account %s split across shards %d and %d", tg.Account, s, i)
				}
				shardOf[tg.Account] = i
			}
		}
		for _, tg := range targets {
			if seen[tg.Key()] != 1 {
				t.Errorf("n=%d: %s in %d shards, want exactly 1", n, tg.Key(), seen[tg.Key()])
			}
		}
	}
	// An account keeps its shard when the plan changes.
	small := Shard(targets[:20], 1, 8)
	for _, tg := range small {
		if ShardOf(tg.Account, 8) != 1 {
			t.Errorf("%s moved shard with a smaller plan", tg.Account)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"0/1", "3/4", " 2 / 8 "} {
		if _, _, err := ParseShard(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"4/4", "-1/4", "1", "a/b", "0/0", "1/"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
