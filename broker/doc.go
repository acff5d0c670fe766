// Package broker is rolehop's SSO broker: a small SAML service provider
// that turns a login at the organisation's IdP into AWS console sessions,
// allowed by IdP group membership (the model of AWSconsoleSSO, "AWScons").
// `rolehop broker --config broker.yaml` serves it; Server is the
// http.Handler, usable on its own.
//
// # Model
//
// The configuration (Config, broker.yaml) lists targets under url_prefix:
// a path, a role ARN, a duration, the IdP groups allowed, and what the
// index shows (account alias, description) and where the console opens
// (destination, region). A signed-in user sees the targets their groups
// allow; an unknown target is 404, a target none of their groups allows is
// 403, an empty group list (written groups: [] on purpose) lets every
// signed-in user in. Every decision is one audit line (user, groups,
// target, role, outcome, SourceIdentity, request ID; never a credential,
// token or URL) and a metric.
//
// On an allowed request the broker calls sts:AssumeRole once with its own
// credentials (session.Assume: nothing is cached, so one user's tagged
// session is never handed to another), RoleSessionName and SourceIdentity
// from the user (SessionName: cleaned to [\w+=,.@-], 2 to 64 characters,
// with a hash suffix whenever cleaning changed the name, so two users never
// share one), optional session tags "user" and "groups", then asks the
// federation endpoint for a sign-in token (console.SigninURL) and answers
// 302 with Cache-Control: no-store: the sign-in URL is a bearer secret for
// 15 minutes, and AWScons's cacheable 301 could replay it.
//
// # Durations
//
// What the broker's credentials are decides what it can grant (Plan).
// Long-term IAM user keys make first-hop role sessions, up to 12 hours
// (the role's MaxSessionDuration), and the console session as long
// (getSigninToken's SessionDuration). Temporary credentials (an instance
// or task role, SSO, an assumed-role profile) make every AssumeRole role
// chaining, which AWS caps at 1 hour, and the federation endpoint refuses
// a SessionDuration over 1 hour for such sessions: it is left out, so the
// console lasts as long as the role session. AWScons recommends an
// instance role and shows 8-hour sessions, which AWS refuses; rolehop
// refuses such a target at start, on its line, saying why and what to
// change, and clamps the default_duration with a note.
//
// # SAML
//
// crewjam/saml builds the SP metadata (/saml/metadata, with the requested
// attributes, no encryption key: assertions are signed, not encrypted) and
// the AuthnRequests (HTTP-Redirect binding). Every SAMLResponse is checked
// by samlverify.Verify, rolehop's one verification path (crewjam/saml and
// goxmldsig underneath; nothing hand-written): a signature by the IdP's
// certificate over the assertion, SHA-1 refused, exactly one assertion,
// issuer, audience (the broker's entity ID), recipient and destination
// (the ACS URL from external_url, never from request headers), validity
// window, InResponseTo, a bounded size, and one-time use through a replay
// cache in the store, consumed last and shared by all replicas.
//
// The request is bound to the browser: /saml/login records the
// AuthnRequest ID with a random RelayState in a signed cookie (over https
// __Host-, Secure, HttpOnly, SameSite=None so that it rides the IdP's
// cross-site POST; at most three pending, ten minutes), and the ACS only
// accepts the answer to the request that cookie names. An assertion
// stolen without that cookie is useless; with it, the replay cache
// refuses a second use. IdP-initiated logins (no request) are accepted
// only when enabled. Where a login goes afterwards is the index or a
// configured target, never what a RelayState or a next parameter says
// otherwise: there is no open redirect.
//
// # Sessions and CSRF
//
// A session is a random 256-bit ID in a signed cookie (__Host-, Secure,
// HttpOnly, SameSite=Lax over https; Secure is dropped only for plain
// http on loopback, a trial), stored under the SHA-256 of the ID and
// signed with the cookie keys, so a copy of the store yields no cookie and
// whoever can write the store cannot make up or move a session. A new login ends the browser's
// previous session; logout (POST) ends it everywhere. State-changing
// requests are POSTs that need the session's CSRF token and the broker's
// origin (Origin, Sec-Fetch-Site). Opening a console is a GET for links and
// bookmarks only when the browser says it comes from the broker's own
// pages or from the user (Fetch Metadata); a link from another site gets
// a confirmation page with a POST form instead of a console.
//
// Pages are html/template with a strict Content-Security-Policy (no
// script, no inline style, form-action limited to the broker, the
// federation endpoints and the consoles), frame-ancestors 'none',
// Referrer-Policy no-referrer, no-store, and HSTS over https. Error pages
// say what to do and show a reference (the request ID in the logs); they
// never show SAML errors, groups or role ARNs.
//
// # Store and operations
//
// Sessions and the replay cache live in a store.Store: in memory for one
// process, in Redis (redisstore) for replicas behind a load balancer,
// which then share session_key_file. A store outage is a 503 page, never
// "no session" or "assertion not seen". /healthz checks the store,
// /readyz answers 503 while draining for a shutdown, /metrics serves
// Prometheus metrics (logins, refusals by reason, decisions by target and
// outcome, STS and federation latency, store errors, reloads) to loopback
// or on metrics_listen. Reload swaps a new configuration in atomically only
// if it is valid for the broker's credentials and its IdP metadata loads.
// Files the broker reads (configuration, IdP metadata, keys) must belong
// to its user or root and not be writable by others; secrets must not be
// readable by others.
package broker
