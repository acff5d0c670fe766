package idp_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rolehop/rolehop/saml/idp"
)

// shibIdP plays the pages of a Shibboleth IdP v4 unsolicited SSO: the
// client-side storage page (auto-submitted, hidden inputs without values),
// the j_username/j_password form with a named <button>, the attribute-release
// consent page (radio buttons with a preset choice), then the SAMLResponse.
// Each step is checked the way Spring Web Flow does: execution key, CSRF
// token and _eventId_proceed.
type shibIdP struct{ assertion string }

func (s *shibIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	const sso = "/idp/profile/SAML2/Unsolicited/SSO"
	if r.URL.Path != sso {
		http.NotFound(w, r)
		return
	}
	step := r.URL.Query().Get("execution")
	if r.Method == http.MethodPost && (r.PostForm.Get("csrf_token") != "_c5f1" || !r.PostForm.Has("_eventId_proceed")) {
		http.Error(w, "CSRF or event missing", http.StatusForbidden)
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Query().Get("providerId") == "urn:amazon:webservices":
		http.Redirect(w, r, sso+"?execution=e1s1", http.StatusFound)
	case step == "e1s1" && r.Method == http.MethodGet:
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Loading Session Information</title></head><body onload="doLoad()">
<form name="form1" action="/idp/profile/SAML2/Unsolicited/SSO?execution=e1s1" method="post">
<input type="hidden" name="csrf_token" value="_c5f1" />
<input name="shib_idp_ls_exception.shib_idp_session_ss" type="hidden" />
<input name="shib_idp_ls_success.shib_idp_session_ss" type="hidden" value="false" />
<input name="shib_idp_ls_supported" type="hidden" />
<input name="_eventId_proceed" type="hidden" />
<noscript><button type="submit" name="_eventId_proceed">Continue</button></noscript>
</form></body></html>`)
	case step == "e1s1":
		if !r.PostForm.Has("shib_idp_ls_success.shib_idp_session_ss") {
			http.Error(w, "storage form incomplete", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, sso+"?execution=e1s2", http.StatusFound)
	case step == "e1s2" && r.Method == http.MethodGet:
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Web Login Service</title></head><body>
<form action="/idp/profile/SAML2/Unsolicited/SSO?execution=e1s2" method="post">
<input type="hidden" name="csrf_token" value="_c5f1" />
<label for="username">Username</label><input class="form-element form-field" id="username" name="j_username" type="text" value="">
<label for="password">Password</label><input class="form-element form-field" id="password" name="j_password" type="password" value="">
<input type="checkbox" name="donotcache" value="1" id="donotcache"><label for="donotcache">Don't Remember Login</label>
<input id="_shib_idp_revokeConsent" type="checkbox" name="_shib_idp_revokeConsent" value="true">
<button class="form-element form-button" type="submit" name="_eventId_proceed">Login</button>
</form></body></html>`)
	case step == "e1s2":
		if r.PostForm.Get("j_username") != "alice" || r.PostForm.Get("j_password") != "s3cret-Pa55" || r.PostForm.Has("donotcache") {
			http.Redirect(w, r, sso+"?execution=e1s2", http.StatusFound)
			return
		}
		http.Redirect(w, r, sso+"?execution=e1s3", http.StatusFound)
	case step == "e1s3" && r.Method == http.MethodGet:
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>Information Release</title></head><body>
<form action="/idp/profile/SAML2/Unsolicited/SSO?execution=e1s3" method="post">
<input type="hidden" name="csrf_token" value="_c5f1" />
<input id="_shib_idp_doNotRememberConsent" type="radio" name="_shib_idp_consentOptions" value="_shib_idp_doNotRememberConsent">
<input id="_shib_idp_rememberConsent" type="radio" name="_shib_idp_consentOptions" value="_shib_idp_rememberConsent" checked>
<input type="submit" name="_eventId_proceed" value="Accept">
<input type="submit" name="_eventId_AttributeReleaseRejected" value="Reject">
</form></body></html>`)
	case step == "e1s3":
		if r.PostForm.Get("_shib_idp_consentOptions") != "_shib_idp_rememberConsent" || r.PostForm.Has("_eventId_AttributeReleaseRejected") {
			http.Error(w, "consent not given", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `<!DOCTYPE html><html><body onload="document.forms[0].submit()"><noscript><p><strong>Note:</strong> Since your browser does not support JavaScript, you must press the Continue button once to proceed.</p></noscript>
<form action="https&#x3a;&#x2f;&#x2f;signin.aws.amazon.com&#x2f;saml" method="post"><div><input type="hidden" name="SAMLResponse" value="%s"/></div>
<noscript><div><input type="submit" value="Continue"/></div></noscript></form></body></html>`, html.EscapeString(s.assertion))
	default:
		http.Error(w, "unexpected step "+step, http.StatusBadRequest)
	}
}

func TestFormShibboleth(t *testing.T) {
	fake := &shibIdP{assertion: realAssertion(t)}
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	log, logs := debugLogger()
	f := &idp.Form{
		Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
		URL:      srv.URL + "/idp/profile/SAML2/Unsolicited/SSO?providerId=urn%3Aamazon%3Awebservices",
		Prompter: idp.Fixed{User: "alice", Pass: "s3cret-Pa55"},
	}
	got, err := f.Assertion(context.Background())
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, logs)
	}
	if got != fake.assertion {
		t.Fatal("assertion differs from the IdP's")
	}
	assertNoSecret(t, "log", logs.String(), "s3cret-Pa55")
}
