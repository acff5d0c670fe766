package broker

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// keyring signs and verifies the broker's cookies: HMAC-SHA256 with a key
// derived per purpose (a session cookie can never pass for a login-state
// cookie). The first key signs; every key verifies, so that keys rotate
// without logging everyone out (add the new key first, reload, and drop
// the old one after the session lifetime).
type keyring struct {
	keys [][]byte
}

// minKeyLen is the shortest accepted key (characters of the key file).
const minKeyLen = 32

// parseKeys reads a key file: one key per line (blank lines and lines
// starting with # ignored), each at least 32 characters.
func parseKeys(b []byte) (*keyring, error) {
	kr := &keyring{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		k := strings.TrimSpace(sc.Text())
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		if len(k) < minKeyLen {
			return nil, fmt.Errorf("line %d: a key of %d characters; want at least %d random ones (e.g. openssl rand -base64 48)", line, len(k), minKeyLen)
		}
		kr.keys = append(kr.keys, []byte(k))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(kr.keys) == 0 {
		return nil, errors.New("no key in the file; write one line of 32+ random characters (e.g. openssl rand -base64 48)")
	}
	return kr, nil
}

// randomKeys is a keyring of one fresh key: for a single process with the
// memory store, where a restart loses the sessions anyway.
func randomKeys() *keyring {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &keyring{keys: [][]byte{k}}
}

func (kr *keyring) mac(key []byte, purpose string, payload []byte) []byte {
	d := hmac.New(sha256.New, key)
	d.Write([]byte("rolehop broker cookie key: " + purpose))
	m := hmac.New(sha256.New, d.Sum(nil))
	m.Write(payload)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// sign returns payload and its MAC as cookie-safe text.
func (kr *keyring) sign(purpose string, payload []byte) string {
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(kr.mac(kr.keys[0], purpose, payload))
}

// verify returns the payload of a value sign made with any key for
// purpose.
func (kr *keyring) verify(purpose, value string) ([]byte, bool) {
	p, m, ok := strings.Cut(value, ".")
	if !ok || len(value) > 8192 {
		return nil, false
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return nil, false
	}
	mac, err := b64.DecodeString(m)
	if err != nil {
		return nil, false
	}
	for _, k := range kr.keys {
		if hmac.Equal(mac, kr.mac(k, purpose, payload)) {
			return payload, true
		}
	}
	return nil, false
}
