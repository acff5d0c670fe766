package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/presign"
)

// PresignOptions are the inputs of `rolehop presign`.
type PresignOptions struct {
	F      *Factory
	Logger *slog.Logger // debug log; nil discards

	Profile     string        // positional P or --profile; "" = AWS_PROFILE/default
	Target      string        // s3://bucket/key (GET/PUT)
	Method      string        // --method GET (default) or PUT
	Expires     time.Duration // --expires; 0 = 15 minutes
	ExpiresSet  bool          // --expires was given (0 is then refused, not the default)
	EndpointURL string        // --endpoint-url; "" = the SDK's (AWS_ENDPOINT_URL_S3, ...)
	PathStyle   bool          // --path-style
	Post        string        // --post s3://bucket/prefix/
	MaxSize     int64         // --max-size for --post
	CurlFile    string        // --curl FILE for --post
}

// defaultPostMaxSize is --max-size's default: 5 GiB, S3's largest single
// upload.
const defaultPostMaxSize = 5 << 30

// NewCmdPresign builds `rolehop presign`; runF, when not nil, runs instead
// of the command.
func NewCmdPresign(f *Factory, runF func(*PresignOptions) error) *cobra.Command {
	opts := &PresignOptions{F: f}
	var expires lifetimeFlag
	cmd := &cobra.Command{
		Use:   "presign [PROFILE] s3://BUCKET/KEY | presign [PROFILE] --post s3://BUCKET/PREFIX/",
		Short: "Print a presigned S3 URL, or a browser upload form, with a profile's credentials",
		Long: "presign signs an S3 GET or PUT of s3://BUCKET/KEY with the credentials of PROFILE\n" +
			"(or --profile, AWS_PROFILE, the environment) and prints the URL on stdout.\n\n" +
			"A presigned URL works only while the credentials that signed it are valid, whatever\n" +
			"its X-Amz-Expires says: with temporary credentials its lifetime is capped at their\n" +
			"expiry, and a notice on stderr says until when the URL works. --expires is at most\n" +
			"7 days (7d, 168h).\n\n" +
			"--post prints a browser upload form (url and fields, as JSON) for any file name under\n" +
			"s3://BUCKET/PREFIX/; with --curl FILE it prints instead a curl command line that\n" +
			"uploads FILE with that form. Custom endpoints (MinIO, ...): --endpoint-url or\n" +
			"AWS_ENDPOINT_URL_S3; --path-style is implied for IP-address and localhost endpoints.",
		Example: "  rolehop presign prod s3://my-bucket/report.pdf --expires 1h\n" +
			"  rolehop presign prod s3://my-bucket/upload.bin --method PUT\n" +
			"  rolehop presign prod --post s3://my-bucket/incoming/ --max-size 10485760 --curl photo.jpg",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Expires, opts.ExpiresSet = expires.d, cmd.Flags().Changed("expires")
			opts.Logger = f.Logger()
			// The last s3:// argument is the target; one other is the profile.
			var rest []string
			for _, a := range args {
				if strings.HasPrefix(a, "s3:") || strings.Contains(a, "://") {
					if opts.Target != "" {
						return usageError(fmt.Errorf("two S3 URLs given (%q and %q); give one", opts.Target, a))
					}
					opts.Target = a
					continue
				}
				rest = append(rest, a)
			}
			p, err := profileArg(cmd, rest, opts.Profile)
			if err != nil {
				return err
			}
			opts.Profile = p
			if runF != nil {
				return runF(opts)
			}
			return runPresign(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Profile, "profile", "", "AWS profile (instead of the positional PROFILE)")
	fl.StringVarP(&opts.Method, "method", "X", "GET", "HTTP method of the URL: GET or PUT")
	fl.VarP(&expires, "expires", "e", "lifetime of the URL or form, up to 7d (default 15m)")
	fl.StringVar(&opts.EndpointURL, "endpoint-url", "", "S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS's)")
	fl.BoolVar(&opts.PathStyle, "path-style", false, "address buckets as ENDPOINT/BUCKET/KEY (MinIO and most custom endpoints)")
	fl.StringVar(&opts.Post, "post", "", "print a browser upload form for s3://BUCKET/PREFIX/ instead of a URL")
	fl.Int64Var(&opts.MaxSize, "max-size", defaultPostMaxSize, "largest upload the --post form accepts, in bytes")
	fl.StringVar(&opts.CurlFile, "curl", "", "with --post: print a curl command line uploading FILE instead of JSON")
	return cmd
}

func runPresign(ctx context.Context, opts *PresignOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	method := strings.ToUpper(opts.Method)
	var bucket, key string
	var err error
	switch {
	case opts.Post != "" && opts.Target != "":
		return usageError(fmt.Errorf("both %q and --post %q given; a URL or a form, not both", opts.Target, opts.Post))
	case opts.Post != "":
		if bucket, key, err = presign.ParseS3Prefix(opts.Post); err != nil {
			return usageError(err)
		}
		if opts.MaxSize <= 0 {
			return usageError(fmt.Errorf("--max-size %d: use a positive number of bytes", opts.MaxSize))
		}
	case opts.Target == "":
		return usageError(errors.New("no S3 URL given; use rolehop presign [PROFILE] s3://bucket/key or --post s3://bucket/prefix/"))
	default:
		if method != "GET" && method != "PUT" {
			return usageError(fmt.Errorf("--method %q: use GET or PUT (or --post for a browser upload form)", opts.Method))
		}
		if opts.CurlFile != "" {
			return usageError(errors.New("--curl works with --post only"))
		}
		if bucket, key, err = presign.ParseS3URL(opts.Target); err != nil {
			return usageError(err)
		}
	}
	switch {
	case opts.Expires < 0 || (opts.Expires == 0 && opts.ExpiresSet):
		return usageError(fmt.Errorf("--expires %v: use a positive lifetime such as 15m, 12h or 7d", opts.Expires))
	case opts.Expires > presign.MaxExpires:
		return usageError(fmt.Errorf("--expires %v is over S3's limit of 7 days; use 7d (168h) or less", opts.Expires))
	}
	pathStyle := opts.PathStyle
	if opts.EndpointURL != "" {
		u, err := url.Parse(opts.EndpointURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(fmt.Errorf("--endpoint-url %q: use an http(s)://host[:port] URL", opts.EndpointURL))
		}
	}

	// Opening the profile fetches its credentials: a clear error here, and
	// the presigner reuses them.
	prof, err := openProfile(ctx, opts.F, log, Delivery{Profile: opts.Profile})
	if err != nil {
		return err
	}
	cfg, err := prof.Config(ctx)
	if err != nil {
		return profileError(err)
	}
	if opts.EndpointURL != "" {
		cfg.BaseEndpoint = &opts.EndpointURL
	}
	if cfg.Region == "" {
		// Like the AWS CLI: S3 works without a configured region.
		cfg.Region = awsarn.GlobalRegion("")
		log.Debug("no region configured; signing for " + cfg.Region)
	}
	if !pathStyle && cfg.BaseEndpoint != nil && localEndpoint(*cfg.BaseEndpoint) {
		pathStyle = true
		log.Debug("path-style addressing for an IP-address or localhost endpoint", "endpoint", *cfg.BaseEndpoint)
	}
	p := presign.New(cfg, presign.Options{UsePathStyle: pathStyle, Logger: log})

	if opts.Post != "" {
		form, err := p.PostForm(ctx, bucket, key, opts.Expires, opts.MaxSize)
		if err != nil {
			return presignError(err)
		}
		if opts.CurlFile != "" {
			if _, err := fmt.Fprintln(opts.F.IO.Out, curlCommand(form, opts.CurlFile)); err != nil {
				return err
			}
		} else {
			enc := json.NewEncoder(opts.F.IO.Out)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			out := struct {
				URL     string            `json:"url"`
				Fields  map[string]string `json:"fields"`
				Expires string            `json:"expires"`
			}{form.URL, form.Fields, time.Now().Add(form.Expires).UTC().Format(time.RFC3339)}
			if err := enc.Encode(out); err != nil {
				return err
			}
		}
		capNotice(opts, "form", form.Capped, form.Expires)
		return nil
	}

	var res presign.Result
	if method == "PUT" {
		res, err = p.PutURL(ctx, bucket, key, opts.Expires)
	} else {
		res, err = p.GetURL(ctx, bucket, key, opts.Expires)
	}
	if err != nil {
		return presignError(err)
	}
	if _, err := fmt.Fprintln(opts.F.IO.Out, res.URL); err != nil {
		return err
	}
	capNotice(opts, "URL", res.Capped, res.Expires)
	return nil
}

// capNotice tells the user, in one line on stderr, that the lifetime was
// cut to the credentials' expiry.
func capNotice(opts *PresignOptions, what string, capped bool, signed time.Duration) {
	if !capped {
		return
	}
	until := time.Now().Add(signed).UTC().Format("2006-01-02 15:04:05 UTC")
	asked := opts.Expires
	if asked == 0 {
		asked = presign.DefaultExpires
	}
	fmt.Fprintf(opts.F.IO.ErrOut, "rolehop: the %s works only until the credentials that signed it expire, at %s (%s, not the %s asked for)\n",
		what, until, shortDuration(signed), shortDuration(asked))
}

func presignError(err error) error {
	switch {
	case errors.Is(err, presign.ErrExpires), errors.Is(err, presign.ErrS3URL), errors.Is(err, presign.ErrInput):
		return usageError(err)
	}
	return err
}

// localEndpoint reports whether an endpoint's host is an IP address or
// localhost, where virtual-hosted bucket names cannot resolve.
func localEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h) != nil
}

// curlCommand is a POSIX shell command line uploading file with form: every
// field as --form-string (no '@' or '<' interpretation), the file last.
func curlCommand(form presign.Form, file string) string {
	names := make([]string, 0, len(form.Fields))
	for k := range form.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	// S3 wants "key" first among the fields by convention; any order works,
	// but the file must be the last part.
	var b strings.Builder
	b.WriteString("curl --fail --silent --show-error")
	for _, k := range names {
		b.WriteString(" --form-string " + shellQuote(k+"="+form.Fields[k]))
	}
	// curl -F reads ';' and ',' in a file name as options unless quoted.
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(file)
	b.WriteString(" --form " + shellQuote(`file=@"`+q+`"`))
	b.WriteString(" " + shellQuote(form.URL))
	return b.String()
}

// shellQuote quotes s for a POSIX shell, leaving words that need no
// quoting bare (a readable command line).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return shQuote(s)
}

// lifetimeFlag is a duration flag that also takes days ("7d") and plain
// seconds ("3600").
type lifetimeFlag struct{ d time.Duration }

func (f *lifetimeFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *lifetimeFlag) Type() string { return "duration" }

func (f *lifetimeFlag) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 3650 {
			return fmt.Errorf("%q: use a duration such as 15m, 12h or 7d", s)
		}
		f.d = time.Duration(days * float64(24*time.Hour))
		return nil
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		f.d = time.Duration(secs) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q: use a duration such as 15m, 12h or 7d", s)
	}
	f.d = d
	return nil
}

// shortDuration prints d without zero units: 1h, 14m59s, 2h30m.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
