// Package session turns "who I am" into temporary AWS credentials for any
// account, on aws-sdk-go-v2. It reads like the SDK's stscreds: each
// constructor takes its own typed options (func(*XOptions)), every STS
// parameter is a documented field, and misuse does not compile.
//
// A [Provider] gives credentials for an account ID; [Config] turns any
// provider into an aws.Config for an account. Three providers are built in:
//
//   - [ProfilePerAccount] reads the shared config and credentials files: the
//     profile named after the account ID, else AWS_PROFILE, else "default".
//     Every profile form the SDK resolves (static keys,
//     role_arn+source_profile, credential_process, sso_*) works unchanged.
//   - [CrossAccount] assumes a role of one name in any account that trusts a
//     base account (the awsrun model: one login, every account).
//   - [SAML] logs in to an IdP (package saml/idp), reads the Role values of
//     the SAML assertion and calls AssumeRoleWithSAML for the account's role;
//     the assertion is cached (5 minutes by default, never past its own
//     expiry) and concurrent callers share one login.
//
// [RoleConfig] (the aws-assume-role-lib model) derives a child aws.Config
// from any parent; its credentials refresh themselves before they expire and
// the child can itself be a parent, so role chains of any depth work.
// [LoadProfile] loads one named SDK profile, with the expiry of static
// credentials known where a file or the environment says it.
//
// [Assume] and [AssumeRoleWithSAML] make one STS call and cache nothing: a
// broker serving many users must never hand one user's session to another.
//
// Every parameter is validated before any network call ([ParamError]).
// Providers cache credentials per (account, role) in memory
// ([RefreshPolicy]: reused until half their lifetime has passed, never
// within five minutes of expiry); concurrent callers for one key share a
// single STS call, callers for other keys never wait on it, and a failed
// refresh is not cached. Options.DiskCache adds the on-disk cache (package
// credcache, the AWS CLI's layout) that rolehop's own processes share.
// Package session/sessiontest holds the conformance suite every provider
// passes.
//
// All providers are safe for concurrent use.
package session
