// Package credenv holds the environment of a process rolehop hands
// credentials to (exec, env, serve, run): the variables that carry them, and
// the ones that would override or confuse them and are removed.
package credenv

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// envChain is source.EnvChain, not imported to keep this package light: a
// child never inherits rolehop's own resolution chain.
const envChain = "ROLEHOP_SOURCE_CHAIN"

// Conflicting are the variables that would override or confuse credentials
// set in the environment: profiles, other credentials, other credential
// sources, and rolehop's own per-run variables.
var Conflicting = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"ROLEHOP_PROFILE", envChain,
}

// Var is one environment variable.
type Var struct{ Name, Value string }

// String is NAME=VALUE.
func (v Var) String() string { return v.Name + "=" + v.Value }

// Vars are the variables carrying c, and the region when known, in a fixed
// order: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (when
// temporary), AWS_CREDENTIAL_EXPIRATION (when they expire; botocore and
// rolehop read it), AWS_REGION and AWS_DEFAULT_REGION.
func Vars(c aws.Credentials, region string) []Var {
	vars := []Var{
		{"AWS_ACCESS_KEY_ID", c.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", c.SecretAccessKey},
	}
	if c.SessionToken != "" {
		vars = append(vars, Var{"AWS_SESSION_TOKEN", c.SessionToken})
	}
	if c.CanExpire {
		vars = append(vars, Var{"AWS_CREDENTIAL_EXPIRATION", c.Expires.UTC().Format(time.RFC3339)})
	}
	if region != "" {
		vars = append(vars, Var{"AWS_REGION", region}, Var{"AWS_DEFAULT_REGION", region})
	}
	return vars
}

// Clean returns environ without the Conflicting variables.
func Clean(environ []string) []string {
	return Without(environ, Conflicting...)
}

// Without returns environ without the named variables.
func Without(environ []string, names ...string) []string {
	drop := make(map[string]bool, len(names))
	for _, n := range names {
		drop[n] = true
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return out
}

// With returns Clean(environ) followed by vars.
func With(environ []string, vars ...Var) []string {
	env := Clean(environ)
	for _, v := range vars {
		env = append(env, v.String())
	}
	return env
}
