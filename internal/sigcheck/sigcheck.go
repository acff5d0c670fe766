// Package sigcheck verifies AWS Signature Version 4 on requests that
// rolehop's test fakes (internal/stsfake, internal/fedfake) receive, the way
// AWS does: the signature is computed again over the received request with
// the secret key the fake knows for the access key, by the AWS SDK's own
// signer (aws-sdk-go-v2 aws/signer/v4), and compared in constant time. No
// SigV4 arithmetic is written here: only the choice of what the signer is
// given (the headers the client listed in SignedHeaders, the body's
// SHA-256, the X-Amz-Date, the credential scope's region and service).
//
// Not checked, on purpose: the request time against the server's clock
// (AWS refuses more than 5 minutes of skew), because the fakes run on
// injected clocks that tests move by hours while the SDK signs with the
// real time.
package sigcheck

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Auth is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
//	SignedHeaders=h1;h2, Signature=HEX
type Auth struct {
	AccessKeyID   string
	Date          string // YYYYMMDD of the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ErrMalformed means the Authorization header is not a SigV4 header with
// Credential, SignedHeaders and Signature.
var ErrMalformed = errors.New("authorization header is not AWS4-HMAC-SHA256 with Credential, SignedHeaders and Signature")

// Parse reads a SigV4 Authorization header.
func Parse(h string) (Auth, error) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return Auth{}, ErrMalformed
	}
	var cred, signed, sig string
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] == "" || len(scope[1]) != 8 || scope[2] == "" || scope[3] == "" ||
		scope[4] != "aws4_request" || signed == "" || len(sig) != 64 {
		return Auth{}, ErrMalformed
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return Auth{}, ErrMalformed
	}
	return Auth{
		AccessKeyID: scope[0], Date: scope[1], Region: scope[2], Service: scope[3],
		SignedHeaders: strings.Split(signed, ";"), Signature: strings.ToLower(sig),
	}, nil
}

const amzDate = "20060102T150405Z"

// Verify reports whether a's signature over r (whose body, already read,
// is body) was made with secret. The session token, when signed, is taken
// from the request as sent; checking that it belongs to the key is the
// caller's business.
func Verify(r *http.Request, body []byte, a Auth, secret string) bool {
	at, err := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
	if err != nil || at.Format("20060102") != a.Date {
		return false
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return false
	}
	req.Host = r.Host
	signsDate := false
	for _, h := range a.SignedHeaders {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			if h == "x-amz-date" {
				signsDate = true
			}
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return false // a signed header that did not arrive
			}
			req.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	if !signsDate {
		return false
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: secret}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), a.Service, a.Region, at,
		func(o *v4.SignerOptions) { o.DisableSessionToken = true })
	if err != nil {
		return false
	}
	again, err := Parse(req.Header.Get("Authorization"))
	if err != nil || strings.Join(again.SignedHeaders, ";") != strings.Join(a.SignedHeaders, ";") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(again.Signature), []byte(a.Signature)) == 1
}
