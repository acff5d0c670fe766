package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/session"
)

// index is the list of consoles the user may open.
func (s *Server) index(x *exchange) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		s.page(x, msgMethod, nil)
		return
	}
	sess := s.sessionOrLogin(x, x.st.cfg.URLPrefix)
	if sess == nil {
		return
	}
	cfg := x.st.cfg
	d := &pageData{Title: cfg.Title, PageTitle: "Your AWS consoles", User: sess.User, CSRF: sess.CSRF, RequestID: x.rid}
	for _, t := range cfg.Targets {
		if !t.Allows(sess.Groups) {
			continue
		}
		alias := t.AccountAlias
		if alias == "" {
			alias = t.Role.AccountID
		}
		tv := targetView{Path: cfg.URLPath(t), Alias: alias, Account: t.Role.AccountID, Role: t.Role.PathName(),
			Description: t.Description, Region: t.Region}
		if tp, ok := x.st.plan.Targets[t.Path]; ok {
			tv.Duration = humanDuration(tp.Duration)
		}
		d.Targets = append(d.Targets, tv)
	}
	render(x.w, "index", http.StatusOK, d)
}

func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	default:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
}

// decision writes the audit line of a console request.
func (s *Server) decision(x *exchange, sess *Session, target, role, outcome string, extra ...slog.Attr) {
	label := target
	if x.st.cfg.TargetByPath(target) == nil {
		label = "" // bounded metric labels: only configured targets
	}
	s.m.decisions.WithLabelValues(label, outcome).Inc()
	attrs := []slog.Attr{slog.String("user", sess.User), slog.Any("groups", sess.Groups),
		slog.String("target", clip(target)), slog.String("role", role), slog.String("outcome", outcome),
		slog.String("source_identity", sess.Name), slog.String("request_id", x.rid)}
	s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "decision", append(attrs, extra...)...)
}

// target is GET or POST on a console target's path.
func (s *Server) target(x *exchange, path string) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodPost {
		s.page(x, msgMethod, nil)
		return
	}
	sess := s.sessionOrLogin(x, x.r.URL.Path)
	if sess == nil {
		return
	}
	cfg := x.st.cfg
	t := cfg.TargetByPath(path)
	if t == nil {
		s.decision(x, sess, path, "", "unknown_target")
		s.page(x, msgNotFound, sess)
		return
	}
	if !t.Allows(sess.Groups) {
		s.decision(x, sess, t.Path, t.RoleARN, "forbidden")
		s.page(x, msgForbidden, sess)
		return
	}
	if x.r.Method == http.MethodGet && !sameOriginNavigation(x.r) {
		// A link from another site (or a browser that sends no Fetch
		// Metadata): ask before opening a console in the user's name.
		alias := t.AccountAlias
		if alias == "" {
			alias = t.Role.AccountID
		}
		render(x.w, "confirm", http.StatusOK, &pageData{Title: cfg.Title, PageTitle: "Open the AWS console?",
			User: sess.User, CSRF: sess.CSRF, RequestID: x.rid, Heading: alias + " · " + t.Role.PathName(), Action: cfg.URLPath(t)})
		return
	}
	if x.r.Method == http.MethodPost && !s.checkForm(x, sess) {
		s.decision(x, sess, t.Path, t.RoleARN, "csrf_refused")
		s.page(x, msgBadRequest, sess)
		return
	}
	u, tp, stage, err := s.signin(x.r.Context(), x.st, sess, t)
	if err != nil {
		outcome := stage + "_error"
		s.log.Error("broker: console sign-in failed", "stage", stage, "target", t.Path, "role", t.RoleARN,
			"user", sess.User, "err", err, "request_id", x.rid)
		s.decision(x, sess, t.Path, t.RoleARN, outcome)
		s.page(x, msgAWSFailed, sess)
		return
	}
	s.decision(x, sess, t.Path, t.RoleARN, "allowed", slog.String("session_duration", tp.Duration.String()),
		slog.String("console_kind", tp.Console.String()))
	h := x.w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Location", u)
	x.w.WriteHeader(http.StatusFound) // AWS's sign-in URL is a 15-minute bearer secret: 302, never a cacheable 301
}

// signin assumes t's role for the user (one STS call, nothing cached) and
// returns the console sign-in URL. stage says what failed: "sts" or
// "federation".
func (s *Server) signin(ctx context.Context, st *state, sess *Session, t *Target) (string, TargetPlan, string, error) {
	cfg := st.cfg
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tp := st.plan.Targets[t.Path]
	parent, err := s.deps.Base.Credentials.Retrieve(ctx)
	if err != nil {
		return "", tp, "sts", fmt.Errorf("the broker's credentials: %w", err)
	}
	if k := KindOf(parent); k != st.plan.Kind {
		// The credentials changed kind since the plan was made (a profile
		// edited under a running broker): follow what they are now.
		if !s.warned.Swap(true) {
			s.log.Warn("broker: the broker's credentials changed kind; durations follow the new kind until the next reload",
				"planned", st.plan.Kind.String(), "now", k.String())
		}
		tp = targetPlan(k, min(tp.Duration, MaxFor(k)))
	}
	params := session.AssumeRoleParams{RoleSessionName: sess.Name, Duration: tp.Duration}
	if cfg.SourceIdentity {
		params.SourceIdentity = sess.Name
	}
	tags := cfg.SessionTags
	if t.SessionTags != nil {
		tags = *t.SessionTags
	}
	if tags {
		params.Tags = map[string]string{"user": tagValue(sess.User), "groups": groupsTag(t.matched(sess.Groups))}
	}
	start := time.Now()
	creds, err := session.Assume(ctx, s.deps.Base, t.RoleARN, params, func(o *session.Options) {
		o.Logger, o.Now = s.log, s.now
	})
	s.m.sts.WithLabelValues(outcome(err)).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", tp, "sts", err
	}
	start = time.Now()
	u, err := console.SigninURL(ctx, creds, console.Options{
		Destination:     t.Destination,
		Region:          t.Region,
		Issuer:          cfg.ExternalURL.String() + cfg.URLPrefix,
		SessionDuration: tp.SessionDuration,
		Kind:            tp.Console,
		Partition:       t.Role.Partition,
		FederationURL:   cfg.FederationURL,
		HTTPClient:      s.deps.HTTPClient,
		Logger:          s.log,
	})
	s.m.federation.WithLabelValues(outcome(err)).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", tp, "federation", err
	}
	return u, tp, "", nil
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
