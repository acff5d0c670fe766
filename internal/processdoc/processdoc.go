// Package processdoc writes the credential_process document (Version 1
// JSON) the AWS CLI and SDKs read. `rolehop credential-process` and the
// SDK-free fast path (cmd/rolehop-credential-process) both print through
// Encode, so their outputs are byte for byte the same.
package processdoc

import (
	"bytes"
	"encoding/json"
	"time"
)

// document is the credential_process Version 1 document.
type document struct {
	Version         int
	AccessKeyId     string //nolint:revive // the wire name
	SecretAccessKey string
	SessionToken    string `json:",omitempty"`
	Expiration      string `json:",omitempty"`
}

// Encode returns the document for a set of credentials, with a trailing
// newline; expires is written (RFC 3339, UTC) only when canExpire.
func Encode(accessKeyID, secretAccessKey, sessionToken string, canExpire bool, expires time.Time) ([]byte, error) {
	doc := document{Version: 1, AccessKeyId: accessKeyID, SecretAccessKey: secretAccessKey, SessionToken: sessionToken}
	if canExpire {
		doc.Expiration = expires.UTC().Format(time.RFC3339)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
