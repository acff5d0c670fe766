package main

import (
	"encoding/json"
	"os"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/internal/credfile"
)

// The resolution cache: what keeps a warm call flat in the AWS config's
// size.
//
// Checking a config file of 10,000 profiles with every rule the AWS CLI
// applies takes milliseconds, however it is done; a warm call should not
// pay that for a file that has not changed since it was checked. So after
// a profile is resolved, the fast program records, in the credential
// cache's folder (private, the user's), which cache entry the profile's
// credentials live in, together with the identity of the config file it
// read (awsfile.FileIdentity: device, inode, size, modification and change
// times). The next call opens the config file only to fstat it: same
// identity, same file, same entry. Any write to the file changes its
// change time, which no user can set back; a record is made only once the
// file is more than a second old, so that a coarse kernel clock cannot
// give a later write the same times. Everything else the resolution
// depends on — the config file's path, the profile, --duration, the
// credentials file's path, the STS endpoint variables — names the record.
// A record that is missing, foreign (not a private regular file of the
// user's), malformed or for another identity is ignored, and the file is
// read and checked in full.

// recordVersion is the record format.
const recordVersion = 1

// record is one remembered resolution.
type record struct {
	V      int    `json:"v"`
	Config string `json:"config"` // awsfile.FileIdentity.ID
	Key    string `json:"key"`    // the credential cache key
}

// minAge is how old the config file must be for its resolution to be
// remembered.
const minAge = time.Second

// recordName names the record of one resolution by all it depends on.
func recordName(cfgPath, profile string, d time.Duration) (string, bool) {
	creds, err := awsfile.CredentialsPath()
	if err != nil {
		return "", false
	}
	args := map[string]any{"Rolehop": "resolution", "Config": cfgPath, "Profile": profile, "Credentials": creds,
		"DurationSeconds": int64(d / time.Second)}
	for _, k := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			args[k] = v
		}
	}
	h, err := credfile.HashArgs(args)
	if err != nil {
		return "", false
	}
	return "resolved-" + h + ".json", true
}

// loadRecord returns the cache key recorded under name for a config file
// of identity id.
func loadRecord(dir, name, id string) (string, bool) {
	d, ok := credfile.OpenPrivateRO(dir)
	if !ok {
		return "", false
	}
	defer d.Close()
	data, _, err := d.ReadFile(name, 4096, atomicfile.CheckPrivate)
	if err != nil {
		return "", false
	}
	var r record
	if json.Unmarshal(data, &r) != nil || r.V != recordVersion || r.Config != id || credfile.CheckKey(r.Key) != nil {
		return "", false
	}
	return r.Key, true
}

// saveRecord remembers key for the config file of identity id, when the
// file is old enough and the folder is private; failures only cost the
// next call a full read.
func saveRecord(dir, name string, id awsfile.FileIdentity, key string, now time.Time) {
	if now.Sub(id.Changed) < minAge {
		return
	}
	d, ok := credfile.OpenPrivateRO(dir)
	if !ok {
		return
	}
	defer d.Close()
	data, err := json.Marshal(record{V: recordVersion, Config: id.ID, Key: key})
	if err != nil {
		return
	}
	// A hint: lost or cut short by a power failure, it is checked, ignored
	// and written again; not worth two fsyncs on the way to a hand-over.
	_ = d.Write(name, data, atomicfile.Options{Perm: 0o600, NoSync: true})
}
