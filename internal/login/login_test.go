package login

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

func TestNewIdPClient(t *testing.T) {
	pr := idp.Fixed{User: "u", Pass: "p"}
	c, err := NewIdPClient(settings.LoginProfile{URL: "https://idp.example.com/sso"}, pr, nil, nil)
	if f, ok := c.(*idp.Form); err != nil || !ok || f.URL != "https://idp.example.com/sso" {
		t.Errorf("form: %T %v", c, err)
	}
	c, err = NewIdPClient(settings.LoginProfile{IdP: settings.IdPADFS, URL: "adfs.example.com", ADFS: settings.ADFSSettings{Auth: "ntlm"}}, pr, nil, nil)
	if a, ok := c.(*idp.ADFS); err != nil || !ok || a.Host != "adfs.example.com" || a.Mode != idp.ADFSHTTPAuth || a.HTTPAuth != "ntlm" {
		t.Errorf("adfs: %+v %v", c, err)
	}
	c, err = NewIdPClient(settings.LoginProfile{IdP: settings.IdPADFS, URL: "https://adfs.example.com/x"}, pr, nil, nil)
	if a, ok := c.(*idp.ADFS); err != nil || !ok || a.URL != "https://adfs.example.com/x" || a.Mode != idp.ADFSForms {
		t.Errorf("adfs forms: %+v %v", c, err)
	}
	ol := settings.LoginProfile{IdP: settings.IdPOneLogin, OneLogin: settings.OneLoginSettings{Region: "eu", Subdomain: "acme", AppID: "1", ClientID: "cid"}}
	if _, err := NewIdPClient(ol, pr, nil, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), EnvOneLoginSecret) {
		t.Errorf("onelogin without secret: %v", err)
	}
	c, err = NewIdPClient(ol, pr, nil, func(k string) string { return map[string]string{EnvOneLoginSecret: "s3cret"}[k] })
	if o, ok := c.(*idp.OneLogin); err != nil || !ok || o.ClientSecret != "s3cret" || o.Region != "eu" || o.AppID != "1" {
		t.Errorf("onelogin: %v %v", c, err)
	}
	if _, err := NewIdPClient(settings.LoginProfile{}, pr, nil, nil); err == nil {
		t.Error("form without url: want an error")
	}
}

// TestNewSAMLMakesNoCall: building the provider validates the parameters
// and contacts neither the IdP nor STS (a server stands in for both and
// counts requests).
func TestNewSAMLMakesNoCall(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	lp := settings.LoginProfile{URL: srv.URL + "/sso", Duration: time.Hour, Region: "eu-west-1", STSEndpoint: srv.URL}
	if _, err := NewSAML(lp, idp.Fixed{}, nil, nil); err != nil {
		t.Errorf("valid profile: %v", err)
	}
	lp.Duration = time.Minute
	if _, err := NewSAML(lp, idp.Fixed{}, nil, nil); !errors.Is(err, session.ErrInvalidParameter) {
		t.Errorf("1m duration: %v", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("building providers made %d requests, want 0", n)
	}
}
