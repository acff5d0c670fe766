package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/stsfake"
)

func TestServeEndpointSecurity(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	uri, token, stop := startServe(t, env, "prod")
	defer stop()
	if !strings.HasPrefix(uri, "http://127.0.0.1:") {
		t.Errorf("endpoint %q is not on 127.0.0.1", uri)
	}
	if len(token) != 64 {
		t.Errorf("token of %d characters, want 64 hex (32 random bytes)", len(token))
	}
	get := func(tok string) (int, map[string]string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, uri, nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]string
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	for _, tok := range []string{"", "wrong", strings.ToUpper(token), token[1:]} {
		if code, body := get(tok); code != http.StatusUnauthorized || body["AccessKeyId"] != "" {
			t.Errorf("token %q: status %d %v, want 401", tok, code, body)
		}
	}
	code, body := get(token)
	if code != 200 || body["RoleArn"] != "arn:aws:iam::111111111111:role/Admin" || body["Token"] == "" || body["Expiration"] == "" {
		t.Fatalf("with the token: %d %v", code, body)
	}
	if is, ok := srv.Issued(body["AccessKeyId"]); !ok || is.SecretAccessKey != body["SecretAccessKey"] {
		t.Errorf("served credentials are not the role's")
	}
	// A second server has another token.
	_, token2, stop2 := startServe(t, env, "prod")
	defer stop2()
	if token2 == token {
		t.Error("two runs share a token")
	}
}
