package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"

	"github.com/rolehop/rolehop/accounts"
	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/login"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/session"
)

// reached is how a run gets credentials: the provider for every target
// account, and what selection needs (the SAML session, the base config).
type reached struct {
	provider session.Provider
	saml     *session.SAML // --via login:NAME
	baseCfg  func(ctx context.Context) (aws.Config, error)
	roleARN  func(account string) string
	limiter  *fanout.Limiter
}

// reach builds the provider without calling anything yet, except that a
// --via profile's account is identified (a rolehop source's role says it,
// else one GetCallerIdentity) when a role is to be assumed from it.
func (r *fleetRun) reach(ctx context.Context) error {
	o := r.o
	rc := &reached{limiter: fanout.NewLimiter(o.Rate, max(1, int(o.Rate)))}
	r.reached = rc
	stsOpt := fanout.STSOptions(rc.limiter)
	if name, ok := strings.CutPrefix(o.Via, "login:"); ok {
		lp, err := settings.Resolve(o.F.SettingsPath, o.F.getenv, settings.Overrides{Login: name, Role: o.Role, Duration: r.c.duration})
		if err != nil {
			return settingsError(err)
		}
		prompter, err := newPrompter(o.F.IO, lp, o.PasswordStdin)
		if err != nil {
			return err
		}
		sp, err := login.NewSAML(lp, prompter, r.log, o.F.getenv, func(so *session.SAMLOptions) {
			so.STSOptions = append(so.STSOptions, stsOpt)
		})
		if err != nil {
			return usageError(err)
		}
		rc.provider, rc.saml = sp, sp
		rc.baseCfg = func(ctx context.Context) (aws.Config, error) {
			if o.OrgProfile == "" {
				return aws.Config{}, usageError(errors.New("--org with --via login:NAME needs --org-profile: a profile of the management account"))
			}
			p, err := openProfile(ctx, o.F, r.log, Delivery{Profile: o.OrgProfile})
			if err != nil {
				return aws.Config{}, err
			}
			return p.Config(ctx)
		}
		rc.roleARN = func(a string) string { return "arn:aws:iam::" + a + ":role/" + o.Role }
		return nil
	}
	needsBase := !o.Plan || o.Org || len(o.OUs) > 0
	if !needsBase {
		return nil
	}
	prof, err := openProfile(ctx, o.F, r.log, Delivery{Profile: o.Via})
	if err != nil {
		return err
	}
	rc.baseCfg = func(ctx context.Context) (aws.Config, error) {
		if o.OrgProfile != "" {
			p, err := openProfile(ctx, o.F, r.log, Delivery{Profile: o.OrgProfile})
			if err != nil {
				return aws.Config{}, err
			}
			return p.Config(ctx)
		}
		return prof.Config(ctx)
	}
	if o.Plan {
		return nil
	}
	baseAccount, err := prof.AccountID(ctx)
	if err != nil {
		return baseError(o.Via, err)
	}
	x, err := session.NewCrossAccount(prof.SessionProvider(), baseAccount, o.Role, func(ao *session.AssumeRoleOptions) {
		ao.ExternalID = o.ExternalID
		ao.Duration = r.c.duration
		ao.Logger = r.log
		ao.STSOptions = append(ao.STSOptions, stsOpt)
	})
	if err != nil {
		return usageError(err)
	}
	rc.provider = x
	rc.roleARN = x.RoleARN
	return nil
}

// baseError says which base could not be used.
func baseError(via string, err error) error {
	if via == "" {
		via = "the default credentials"
	}
	if ExitCode(profileError(err)) == ExitUsage {
		return profileError(err)
	}
	return &ExitError{Code: ExitAWS, Err: fmt.Errorf("--via %s: %w", via, err)}
}

// aliases are accounts.yaml's (the settings' accounts_file).
func (r *fleetRun) aliases() (map[string]string, error) {
	path := r.o.F.getenv("ROLEHOP_ACCOUNTS_FILE")
	if path == "" {
		if lp, err := settings.Resolve(r.o.F.SettingsPath, r.o.F.getenv, settings.Overrides{}); err == nil {
			path = lp.AccountsFile
		}
	}
	m, err := settings.LoadAccounts(path)
	if err != nil {
		return nil, settingsError(err)
	}
	return m, nil
}

func (r *fleetRun) organizations(ctx context.Context) ([]accounts.Account, error) {
	if r.reached.baseCfg == nil {
		return nil, usageError(errors.New("--org needs credentials: --via or --org-profile"))
	}
	cfg, err := r.reached.baseCfg(ctx)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, baseError(r.o.Via, err)
	}
	lim := fanout.NewLimiter(10, 10) // Organizations' own quotas are low
	client := organizations.NewFromConfig(cfg, func(oo *organizations.Options) {
		oo.Retryer = fanout.Retryer(10)
		oo.APIOptions = append(oo.APIOptions, lim.APIOption)
	})
	as, err := accounts.Organizations(ctx, client, accounts.OrgOptions{OUs: r.o.OUs, ExcludeOUs: r.o.ExcludeOUs, Tags: r.c.filter.NeedsTags()})
	if err != nil {
		if errors.Is(err, accounts.ErrInvalid) {
			return nil, usageError(err)
		}
		return nil, &ExitError{Code: ExitAWS, Err: err}
	}
	return as, nil
}

func (r *fleetRun) granted(ctx context.Context) ([]accounts.Account, error) {
	roles, err := r.reached.saml.Roles(ctx)
	if err != nil {
		return nil, loginError(err, nil)
	}
	out := accounts.Granted(roles, r.o.Role)
	if len(out) == 0 {
		return nil, &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("the assertion grants role %q in no account; see rolehop roles", r.o.Role)}
	}
	return out, nil
}
