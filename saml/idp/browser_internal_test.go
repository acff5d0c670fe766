package idp

import (
	"net/url"
	"testing"
)

func TestAWSSignInHost(t *testing.T) {
	for host, want := range map[string]bool{
		"signin.aws.amazon.com":                     true,
		"SIGNIN.AWS.AMAZON.COM.":                    true,
		"us-east-1.signin.aws.amazon.com":           true,
		"signin.amazonaws.cn":                       true,
		"cn-north-1.signin.amazonaws.cn":            true,
		"signin.amazonaws-us-gov.com":               true,
		"us-gov-west-1.signin.amazonaws-us-gov.com": true,
		"evilsignin.aws.amazon.com":                 false,
		"signin.aws.amazon.com.evil.example":        false,
		"aws.amazon.com":                            false,
		"idp.example.com":                           false,
	} {
		if got := awsSignInHost(host); got != want {
			t.Errorf("awsSignInHost(%q) = %v, want %v", host, got, want)
		}
	}
	for path, want := range map[string]bool{"/saml": true, "/saml/": true, "/saml/acs/SAMLSP1": true, "/samlx": false, "/": false, "/console": false} {
		if got := awsSAMLPath(path); got != want {
			t.Errorf("awsSAMLPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestOriginOf(t *testing.T) {
	for in, want := range map[string]string{
		"https://IdP.Example.com/sso?x=1":  "https://idp.example.com",
		"https://idp.example.com:443/":     "https://idp.example.com",
		"http://127.0.0.1:8080/simplesaml": "http://127.0.0.1:8080",
		"http://[::1]:80/":                 "http://[::1]",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := originOf(u); got != want {
			t.Errorf("originOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidProfileName(t *testing.T) {
	for name, want := range map[string]bool{"corp": true, "corp-prod_1.x": true, "": false, ".": false, "..": false,
		"../x": false, "a/b": false, "-x": false, "a b": false} {
		if got := validProfileName(name); got != want {
			t.Errorf("validProfileName(%q) = %v, want %v", name, got, want)
		}
	}
}
