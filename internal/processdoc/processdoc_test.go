package processdoc

import (
	"testing"
	"time"
)

// TestEncode pins the document byte for byte: what `rolehop
// credential-process` printed before the fast program shared this code.
func TestEncode(t *testing.T) {
	exp := time.Date(2026, 11, 26, 16, 4, 5, 999, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		akid, secret, token string
		canExpire           bool
		want                string
	}{
		{"ASIAEXAMPLE", "s/e+c<r>e&t", "tok=en", true,
			`{"Version":1,"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s/e+c<r>e&t","SessionToken":"tok=en","Expiration":"2026-11-26T15:04:05Z"}` + "\n"},
		{"AKIALONGTERM", "secret", "", false, `{"Version":1,"AccessKeyId":"AKIALONGTERM","SecretAccessKey":"secret"}` + "\n"},
	} {
		got, err := Encode(tc.akid, tc.secret, tc.token, tc.canExpire, exp)
		if err != nil || string(got) != tc.want {
			t.Errorf("Encode = %q, %v; want %q", got, err, tc.want)
		}
	}
}
