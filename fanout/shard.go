package fanout

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// ShardOf returns the shard (0..n-1) of an account: the first 8 bytes of
// the SHA-256 of its ID, modulo n. It depends on the account alone, so every
// region of an account lands in the same shard (one AssumeRole per account
// across the whole job), and an account keeps its shard when others are
// added to or removed from the plan between the shards' starts.
func ShardOf(account string, n int) int {
	if n <= 1 {
		return 0
	}
	sum := sha256.Sum256([]byte(account))
	return int(binary.BigEndian.Uint64(sum[:8]) % uint64(n))
}

// Shard returns the targets of shard i of n, in order. The n shards are
// disjoint and together cover targets.
func Shard(targets []Target, i, n int) []Target {
	if n <= 1 {
		return targets
	}
	var out []Target
	for _, t := range targets {
		if ShardOf(t.Account, n) == i {
			out = append(out, t)
		}
	}
	return out
}

// ParseShard reads "I/N": shard I (0-based, as Kubernetes'
// JOB_COMPLETION_INDEX and AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX count) of
// N.
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 {
		return 0, 0, fmt.Errorf("shard %q: want I/N, e.g. 0/4 (I counts from 0, as JOB_COMPLETION_INDEX and AWS_BATCH_JOB_ARRAY_INDEX do)", s)
	}
	if i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: I must be 0..%d (I counts from 0, as JOB_COMPLETION_INDEX and AWS_BATCH_JOB_ARRAY_INDEX do)", s, n-1)
	}
	return i, n, nil
}
