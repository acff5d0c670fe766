package session

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Option sets an AssumeRole parameter or a provider setting. The same options
// serve AssumeRole and NewCrossAccount.
type Option func(*options)

type options struct {
	sessionName       string
	policy            string
	policyErr         error
	policyARNs        []string
	duration          time.Duration
	tags              map[string]string
	transitiveTagKeys []string
	externalID        string
	mfaSerial         string
	tokenCode         func(ctx context.Context) (string, error)
	sourceIdentity    string
	region            string
	logger            *slog.Logger
	now               func() time.Time
	refreshShare      float64
	stsOpts           []func(*sts.Options)
}

func newOptions(opts []Option) (*options, error) {
	o := &options{refreshShare: DefaultRefreshShare}
	for _, fn := range opts {
		fn(o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// WithRoleSessionName sets RoleSessionName ([\w+=,.@-]{2,64}). When absent a
// name "rolehop-<unix-nanos>" is generated for each call.
func WithRoleSessionName(name string) Option { return func(o *options) { o.sessionName = name } }

// WithPolicy sets the inline session policy. A string, []byte or
// json.RawMessage is sent as is; any other value is marshalled to JSON. The
// result must not exceed 2048 characters.
func WithPolicy(policy any) Option {
	return func(o *options) {
		o.policyErr = nil
		switch p := policy.(type) {
		case nil:
			o.policy = ""
		case string:
			o.policy = p
		case []byte:
			o.policy = string(p)
		case json.RawMessage:
			o.policy = string(p)
		default:
			b, err := json.Marshal(p)
			o.policy, o.policyErr = string(b), err
		}
	}
}

// WithPolicyARNs sets managed session policies (at most 10).
func WithPolicyARNs(arns ...string) Option {
	return func(o *options) { o.policyARNs = append(o.policyARNs, arns...) }
}

// WithDuration sets DurationSeconds (15m to 12h). For a chained role (the
// parent's credentials are temporary) anything above 1h is clamped to 1h and
// a notice is logged.
func WithDuration(d time.Duration) Option { return func(o *options) { o.duration = d } }

// WithTags sets session tags (at most 50; key 1-128, value 0-256 characters).
func WithTags(tags map[string]string) Option {
	return func(o *options) {
		if o.tags == nil {
			o.tags = make(map[string]string, len(tags))
		}
		for k, v := range tags {
			o.tags[k] = v
		}
	}
}

// WithTransitiveTagKeys marks session tags (set with WithTags) as transitive.
func WithTransitiveTagKeys(keys ...string) Option {
	return func(o *options) { o.transitiveTagKeys = append(o.transitiveTagKeys, keys...) }
}

// WithExternalID sets ExternalId ([\w+=,.@:/-]{2,1224}).
func WithExternalID(id string) Option { return func(o *options) { o.externalID = id } }

// WithMFA sets SerialNumber; tokenCode is called for a fresh 6-digit code on
// every AssumeRole call (every refresh).
func WithMFA(serial string, tokenCode func(ctx context.Context) (string, error)) Option {
	return func(o *options) { o.mfaSerial, o.tokenCode = serial, tokenCode }
}

// WithSourceIdentity sets SourceIdentity ([\w+=,.@-]{2,64}, not "aws:...").
func WithSourceIdentity(id string) Option { return func(o *options) { o.sourceIdentity = id } }

// WithRegion sets the child's region; by default it is the parent's.
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithLogger sets the logger (nil discards).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used for refresh decisions and generated names.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRefreshShare sets the share of a credential's lifetime after which it
// is refreshed, in (0, 1]; default 0.5. Credentials are never used within 5
// minutes of expiry whatever the share.
func WithRefreshShare(share float64) Option { return func(o *options) { o.refreshShare = share } }

// WithSTSOptions adjusts the STS client (endpoint, retryer, HTTP client...).
func WithSTSOptions(fns ...func(*sts.Options)) Option {
	return func(o *options) { o.stsOpts = append(o.stsOpts, fns...) }
}
