// Package session turns "who I am" into temporary AWS credentials for any
// account: the awsrun SessionProvider model on aws-sdk-go-v2.
//
// A [Provider] returns an aws.Config (or raw aws.Credentials) for an account
// ID. Four providers are built in:
//
//   - [Profile] reads the shared config and credentials files: the profile
//     named after the account ID, else AWS_PROFILE, else "default". Every
//     profile form the SDK resolves (static keys, role_arn+source_profile,
//     credential_process, sso_*) works unchanged.
//   - [CrossAccount] assumes a role of one name in any account that trusts a
//     base account.
//   - [SAML] logs in to an IdP (package saml/idp), reads the Role values of
//     the SAML assertion and calls AssumeRoleWithSAML for the account's role;
//     the assertion is cached (5 minutes by default, never past its own
//     expiry) and concurrent callers share one login.
//   - [AssumeRole] (the aws-assume-role-lib model) derives a child aws.Config
//     from any parent; its credentials refresh themselves before they expire
//     and the child can itself be a parent, so role chains of any depth work.
//
// Every parameter is validated before any network call ([ParamError]).
// Credentials are cached per (account, role): reused until a share of their
// lifetime (half by default) has passed and never within five minutes of
// expiry; concurrent callers for one key share a single STS call, callers for
// other keys never wait on it, and a failed refresh is not cached.
//
// All providers are safe for concurrent use.
package session
