package credcache

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzEntry: any file content is an entry or a reason it is not one, never
// a panic; the reason never quotes the file; an entry survives being
// written and read back.
func FuzzEntry(f *testing.F) {
	for _, s := range []string{
		`{"Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s-SECRETVALUE", "SessionToken": "t", "Expiration": "2026-11-22T16:00:00Z"}}`,
		`{"Credentials": {"AccessKeyId": "ASIACLI", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "2026-11-22T16:00:00UTC"}, "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn"}, "ResponseMetadata": {"RequestId": "r"}}`,
		`{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "SECRETVALUE", "SessionToken": "t", "Expiration": "9999-12-31T23:59:59.999999999+14:00"}}`,
		`{"Credentials": ["SECRETVALUE"]}`, `null`, ``, `{"Credentials": {"Expiration": "2026-11-22T16:00:00GMT"}}`,
		"\x00SECRETVALUE", `{"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T", "Expiration": "2026-02-30T00:00:00Z"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, reason := parse(data)
		if reason != "" {
			if bytes.Contains(data, []byte("SECRETVALUE")) && strings.Contains(reason, "SECRETVALUE") {
				t.Fatalf("the reason quotes the file: %s", reason)
			}
			if strings.ContainsAny(reason, "\n\r\x1b") {
				t.Fatalf("the reason is not one line: %q", reason)
			}
			return
		}
		cr := e.Credentials
		if cr.AccessKeyID == "" || cr.SecretAccessKey == "" || cr.SessionToken == "" || cr.Expires.IsZero() || !cr.CanExpire {
			t.Fatalf("accepted an incomplete entry: %+v", e)
		}
		if y := cr.Expires.UTC().Year(); y < 1 || y > 9999 {
			return // RFC 3339 cannot write it; such an entry is refused as too far anyway
		}
		out, err := encode(e)
		if err != nil {
			t.Fatal(err)
		}
		back, reason := parse(out)
		if reason != "" {
			t.Fatalf("rolehop's own entry does not read back (%s): %s", reason, out)
		}
		if back.Credentials.AccessKeyID != cr.AccessKeyID || back.Credentials.SecretAccessKey != cr.SecretAccessKey ||
			back.Credentials.SessionToken != cr.SessionToken || !back.Credentials.Expires.Equal(cr.Expires.Truncate(time.Second)) {
			t.Fatalf("round trip changed the entry: %+v -> %+v", cr, back.Credentials)
		}
	})
}

// FuzzHashArgs: any JSON object of cache key arguments hashes to a 40-digit
// hex key, the same every time and whatever the key order, or is refused
// with ErrInvalidArgs; never a panic.
func FuzzHashArgs(f *testing.F) {
	for _, s := range []string{
		`{"RoleArn": "arn:aws:iam::111111111111:role/Admin"}`,
		`{"RoleArn": "arn:aws:iam::1:role/R", "RoleSessionName": "alice", "DurationSeconds": 3600, "ExternalId": "é\u2028😀\u007f"}`,
		`{"Policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Condition": {"N": {"x": 1.5, "y": 1e16, "z": -0, "w": 0.00001}}}]}, "B": true, "N": null}`,
		`{"a": [1, 2.0, "x", [], {}], "b": 12345678901234567890123}`,
		`{}`, `{"x": 1e400}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var args map[string]any
		if err := dec.Decode(&args); err != nil || args == nil {
			return
		}
		k1, err := HashArgs(args)
		if err != nil {
			if !errors.Is(err, ErrInvalidArgs) {
				t.Fatalf("error is not ErrInvalidArgs: %v", err)
			}
			return
		}
		if len(k1) != 40 {
			t.Fatalf("key %q is not 40 hex digits", k1)
		}
		if _, err := hex.DecodeString(k1); err != nil {
			t.Fatalf("key %q is not hex", k1)
		}
		if err := checkKey(k1); err != nil {
			t.Fatalf("the key cannot name a cache file: %v", err)
		}
		// The same arguments, decoded again (a fresh map, another
		// iteration order), give the same key.
		dec = json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var again map[string]any
		_ = dec.Decode(&again)
		if k2, err := HashArgs(again); err != nil || k2 != k1 {
			t.Fatalf("hashing again gave %q, %v; want %q", k2, err, k1)
		}
	})
}

// FuzzAssumeRoleKey: AssumeRoleKey on arbitrary arguments never panics and
// gives a usable key or ErrInvalidArgs.
func FuzzAssumeRoleKey(f *testing.F) {
	f.Add("arn:aws:iam::1:role/R", "alice", "ext", "arn:aws:iam::1:mfa/a", int32(3600), `{"Version":"2012-10-17"}`)
	f.Add("", "", "", "", int32(0), "")
	f.Add("r", "\xff", "", "", int32(-1), `{"a":1} trailing`)
	f.Fuzz(func(t *testing.T, role, session, ext, serial string, dur int32, policy string) {
		k, err := AssumeRoleKey(AssumeRoleArgs{RoleArn: role, RoleSessionName: session, ExternalId: ext, SerialNumber: serial, DurationSeconds: dur, Policy: policy})
		if err != nil {
			if !errors.Is(err, ErrInvalidArgs) {
				t.Fatalf("error is not ErrInvalidArgs: %v", err)
			}
			if ext != "" && len(ext) > 3 && strings.Contains(err.Error(), ext) {
				t.Fatalf("the error holds the ExternalId: %v", err)
			}
			return
		}
		if checkKey(k) != nil || len(k) != 40 {
			t.Fatalf("unusable key %q", k)
		}
	})
}
