package broker

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/session"
)

// CredentialKind is what the broker's own credentials are, which decides
// how long the sessions it makes can last.
type CredentialKind int

const (
	// LongTerm credentials are IAM user access keys (no session token):
	// an AssumeRole made with them is a first hop, up to 12 hours (the
	// role's MaxSessionDuration), and the console session may be as long.
	LongTerm CredentialKind = iota + 1
	// Temporary credentials carry a session token (an EC2 instance or ECS
	// task role, SSO, an assumed-role profile, environment credentials
	// with AWS_SESSION_TOKEN): every AssumeRole made with them is role
	// chaining, which AWS caps at 1 hour, and the federation endpoint
	// refuses a console SessionDuration over 1 hour for such sessions.
	Temporary
)

func (k CredentialKind) String() string {
	switch k {
	case LongTerm:
		return "long-term IAM user keys"
	case Temporary:
		return "temporary credentials"
	}
	return "unknown credentials"
}

// KindOf tells the kind of credentials c.
func KindOf(c aws.Credentials) CredentialKind {
	if c.SessionToken != "" {
		return Temporary
	}
	return LongTerm
}

// TargetPlan is how a target's console session is made.
type TargetPlan struct {
	// Duration is AssumeRole's DurationSeconds.
	Duration time.Duration
	// Console is the console.Kind of the role session: KindRole for a
	// first hop, KindChained for role chaining.
	Console console.Kind
	// SessionDuration is sent to getSigninToken; 0 leaves it out (role
	// chaining: the console session then lasts as long as the role
	// session, at most 1 hour).
	SessionDuration time.Duration
	// Clamped reports that the configuration's default_duration was cut
	// to what the credentials allow.
	Clamped bool
}

// Plan is what every target can be granted with the broker's credentials.
type Plan struct {
	Kind CredentialKind
	// Source is where the credentials came from (aws.Credentials.Source).
	Source string
	// Max is the longest role session the credentials allow.
	Max     time.Duration
	Targets map[string]TargetPlan // by Target.Path
	// Notes explain, one line each, what was clamped and why.
	Notes []string
}

// MaxFor is the longest role session credentials of kind k can make.
func MaxFor(k CredentialKind) time.Duration {
	if k == Temporary {
		return session.MaxChainedDuration
	}
	return session.MaxDuration
}

// targetPlan is the plan of one duration under kind k (d within range).
func targetPlan(k CredentialKind, d time.Duration) TargetPlan {
	if k == Temporary {
		return TargetPlan{Duration: min(d, session.MaxChainedDuration), Console: console.KindChained}
	}
	return TargetPlan{Duration: d, Console: console.KindRole, SessionDuration: d}
}

// Plan decides each target's durations for credentials of the given kind
// and source. A target whose own duration the credentials cannot grant is
// a *ConfigError on that duration's line that says why and how to fix it;
// a default_duration they cannot grant is clamped, with a note.
func (c *Config) Plan(kind CredentialKind, source string) (*Plan, error) {
	p := &Plan{Kind: kind, Source: source, Max: MaxFor(kind), Targets: map[string]TargetPlan{}}
	from := ""
	if source != "" {
		from = " (from " + source + ")"
	}
	var errs ConfigErrors
	clamped := 0
	for _, t := range c.Targets {
		d := t.Duration
		if d == 0 {
			d = c.DefaultDuration
			if d > p.Max {
				clamped++
				tp := targetPlan(kind, p.Max)
				tp.Clamped = true
				p.Targets[t.Path] = tp
				continue
			}
		} else if d > p.Max {
			e := &ConfigError{File: c.File, Key: "targets." + t.Path + ".duration",
				Msg: fmt.Sprintf("%v cannot be granted: the broker holds %s%s, so every AssumeRole it makes is role chaining, "+
					"which AWS caps at 1h (and the console then refuses a longer session); set duration: 1h or less, "+
					"or give the broker long-term IAM user keys (credentials.profile naming aws_access_key_id) to allow up to 12h",
					d, kind, from)}
			if t.durationNode != nil {
				e.Line, e.Column = t.durationNode.Line, t.durationNode.Column
			}
			errs = append(errs, e)
			continue
		}
		p.Targets[t.Path] = targetPlan(kind, d)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if clamped > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("default_duration %v clamped to %v for %d target(s) without their own duration: "+
			"the broker holds %s%s, and role chaining is capped at 1h by AWS", c.DefaultDuration, p.Max, clamped, kind, from))
	}
	if kind == Temporary {
		p.Notes = append(p.Notes, "console sessions: SessionDuration is left out (role chaining), so each console session lasts as long as its role session, at most 1h")
	} else {
		p.Notes = append(p.Notes, "console sessions: first-hop role sessions; each lasts its target's duration (up to 12h; the role's MaxSessionDuration must allow it)")
	}
	return p, nil
}
