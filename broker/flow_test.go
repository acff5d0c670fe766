package broker_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestConsoleByGroup is AWScons's model end to end with crafted, signed
// assertions: alice (admins, dev) opens the admin console; bob (dev) gets
// 403 there and opens the dev console; each index lists what its user may
// open; every decision is one audit line.
func TestConsoleByGroup(t *testing.T) {
	h := newHarness(t, harnessOptions{})

	alice := h.browser()
	h.login(alice, "alice", "admins", "dev")
	idx := alice.nav(h.url + "/")
	if idx.StatusCode != 200 || !strings.Contains(idx.body, `href="/prod-admin"`) || !strings.Contains(idx.body, `href="/prod-dev"`) {
		t.Fatalf("alice's index: %d\n%s", idx.StatusCode, idx.body)
	}
	r := alice.nav(h.url + "/prod-admin")
	if r.StatusCode != http.StatusFound {
		t.Fatalf("alice opening prod-admin: %d\n%s\n%s", r.StatusCode, r.body, h.logs.String())
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	loc, _ := url.Parse(r.Header.Get("Location"))
	if !strings.HasPrefix(loc.String(), h.fed.URL+"?") || loc.Query().Get("Action") != "login" ||
		loc.Query().Get("Issuer") != h.url+"/" || loc.Query().Get("SigninToken") == "" {
		t.Fatalf("Location %s", loc.Redacted())
	}
	if r.body != "" {
		t.Errorf("the redirect has a body (%d bytes); the sign-in URL belongs in Location only", len(r.body))
	}
	// The federation endpoint takes the token and lands on the console.
	land := alice.do(http.MethodGet, loc.String(), nil, nil)
	if land.StatusCode != http.StatusFound || land.Header.Get("Location") != "https://console.aws.amazon.com/ec2/home?region=eu-west-1" {
		t.Fatalf("federation login: %d %q", land.StatusCode, land.Header.Get("Location"))
	}
	forms := h.bridge.Forms()
	if len(forms) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(forms))
	}
	f := forms[0]
	if f.Get("RoleArn") != adminRole || f.Get("RoleSessionName") != "alice" || f.Get("SourceIdentity") != "alice" ||
		f.Get("DurationSeconds") != "7200" || f.Get("Tags.member.1.Key") != "" {
		t.Errorf("AssumeRole form %v", f)
	}
	if sr := h.fed.SigninTokenRequests(); len(sr) != 1 || sr[0].SessionDuration != "7200" || sr[0].Kind.String() != "role" {
		t.Errorf("getSigninToken requests %+v; want SessionDuration 7200 for a first-hop role session", sr)
	}

	bob := h.browser()
	h.login(bob, "bob", "dev")
	idx = bob.nav(h.url + "/")
	if !strings.Contains(idx.body, `href="/prod-dev"`) || strings.Contains(idx.body, "prod-admin") {
		t.Fatalf("bob's index lists other targets:\n%s", idx.body)
	}
	r = bob.nav(h.url + "/prod-admin")
	if r.StatusCode != http.StatusForbidden || r.Header.Get("Location") != "" {
		t.Fatalf("bob opening prod-admin: %d", r.StatusCode)
	}
	for _, leak := range []string{"admins", adminRole, "Admin"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("the 403 page shows %q", leak)
		}
	}
	if r = bob.nav(h.url + "/prod-dev"); r.StatusCode != http.StatusFound {
		t.Fatalf("bob opening prod-dev: %d", r.StatusCode)
	}
	if r = bob.nav(h.url + "/no-such-target"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown target: %d, want 404", r.StatusCode)
	}
	if n := len(h.bridge.Forms()); n != 2 {
		t.Errorf("%d AssumeRole calls, want 2 (nothing for a refused request)", n)
	}

	var outcomes []string
	for _, d := range h.auditLines("decision") {
		outcomes = append(outcomes, d["user"].(string)+":"+d["target"].(string)+":"+d["outcome"].(string))
		if d["outcome"] == "allowed" && (d["role"] == "" || d["source_identity"] == "" || d["request_id"] == "") {
			t.Errorf("audit line lacks role, source_identity or request_id: %v", d)
		}
	}
	want := "alice:prod-admin:allowed bob:prod-admin:forbidden bob:prod-dev:allowed bob:no-such-target:unknown_target"
	if got := strings.Join(outcomes, " "); got != want {
		t.Errorf("audit decisions:\n got %s\nwant %s", got, want)
	}
	if logins := h.auditLines("login"); len(logins) != 2 || logins[0]["outcome"] != "ok" {
		t.Errorf("audit logins %v", logins)
	}
}

// TestSessionTags: with session_tags on, each session carries the user and
// the groups that allowed the target, cleaned to STS's tag characters.
func TestSessionTags(t *testing.T) {
	h := newHarness(t, harnessOptions{extraYAML: "session_tags: true\n"})
	b := h.browser()
	h.login(b, "Jürgen Müller <jm@example.org>", "admins", "dev", "unrelated")
	if r := b.nav(h.url + "/prod-dev"); r.StatusCode != http.StatusFound {
		t.Fatalf("open prod-dev: %d\n%s", r.StatusCode, lastLines(h.logs.String(), 3))
	}
	f := h.bridge.Forms()[0]
	tags := map[string]string{}
	for i := 1; f.Get(fmt.Sprintf("Tags.member.%d.Key", i)) != ""; i++ {
		tags[f.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = f.Get(fmt.Sprintf("Tags.member.%d.Value", i))
	}
	if tags["user"] != "Jürgen Müller _jm@example.org_" || tags["groups"] != "admins:dev" || len(tags) != 2 {
		t.Errorf("session tags %q", tags)
	}
	if name := f.Get("RoleSessionName"); !strings.HasPrefix(name, "J_rgen_M_ller__jm@example.org_-") || f.Get("SourceIdentity") != name {
		t.Errorf("RoleSessionName %q, SourceIdentity %q", name, f.Get("SourceIdentity"))
	}
}
