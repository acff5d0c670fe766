// Package brokercli is the broker's command, `rolehop-broker` (which
// `rolehop broker` hands over to): the broker's web service, Prometheus and
// Redis client stay out of the rolehop binary, so the CLI every
// credential_process runs starts without their init cost.
package brokercli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/broker"
	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/broker/store/redisstore"
	"github.com/rolehop/rolehop/internal/cli"
	"github.com/rolehop/rolehop/session"
)

// BrokerOptions are the inputs of `rolehop broker`.
type BrokerOptions struct {
	F          *cli.Factory
	ConfigPath string
	// Check validates the configuration, loads the IdP metadata and the
	// broker's credentials, prints the plan and exits.
	Check bool
	// PrintMetadata prints the broker's SAML SP metadata and exits.
	PrintMetadata bool
	// LogFormat of the operational log on stderr: json or text.
	LogFormat string
	// Drain is how long /readyz answers 503 before the listener closes on
	// SIGTERM, so that load balancers stop sending new requests first.
	Drain time.Duration

	// For tests: reload is read instead of SIGHUP; listening is called
	// with the addresses once they accept connections.
	reload    <-chan os.Signal
	listening func(addr, metricsAddr string)
}

// NewCmd builds the broker command (`rolehop-broker`, and `rolehop broker`
// through it); runF, when not nil, runs instead of the command.
func NewCmd(f *cli.Factory, runF func(*BrokerOptions) error) *cobra.Command {
	opts := &BrokerOptions{F: f}
	cmd := &cobra.Command{
		Use:   "broker --config FILE",
		Short: "Serve the SSO broker: an IdP login opens AWS consoles by group",
		Long: "broker runs a web service, a SAML service provider, that turns a login at your IdP\n" +
			"into AWS console sessions: each target (a URL path) names a role and the IdP groups\n" +
			"allowed to open it. On an allowed request it calls sts:AssumeRole with the broker's\n" +
			"own credentials (one call per console, the user's name as RoleSessionName and\n" +
			"SourceIdentity) and redirects (302, no-store) to the console sign-in URL.\n\n" +
			"The SP metadata is served at /saml/metadata (or printed by --print-metadata):\n" +
			"register it at the IdP. SIGHUP reloads the configuration (a bad one is refused and\n" +
			"the running one kept); SIGTERM drains and stops. The audit log (one JSON line per\n" +
			"decision) goes to stdout, the operational log to stderr. See README.md.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.NoArgs(cmd, args); err != nil {
				return err
			}
			if opts.ConfigPath == "" {
				return cli.UsageError(errors.New("--config is required: the broker's YAML configuration (see the README's broker quick start)"))
			}
			if opts.LogFormat != "json" && opts.LogFormat != "text" {
				return cli.UsageError(fmt.Errorf("--log-format %q: want json or text", opts.LogFormat))
			}
			if runF != nil {
				return runF(opts)
			}
			return runBroker(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "the broker configuration (YAML)")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "check the configuration, the IdP metadata and the credentials, print the plan, exit")
	cmd.Flags().BoolVar(&opts.PrintMetadata, "print-metadata", false, "print the broker's SAML SP metadata (to register at the IdP) and exit")
	cmd.Flags().StringVar(&opts.LogFormat, "log-format", "json", "operational log format on stderr: json or text")
	cmd.Flags().DurationVar(&opts.Drain, "drain", 5*time.Second, "on SIGTERM, how long /readyz fails before the listener closes")
	return cmd
}

// printConfigErrors prints each configuration problem on its own line and
// returns a usage exit without a further message; other errors are
// returned as they are.
func printConfigErrors(ios *cli.IOStreams, err error) error {
	var ces broker.ConfigErrors
	var ce *broker.ConfigError
	switch {
	case errors.As(err, &ces):
		for _, e := range ces {
			fmt.Fprintf(ios.ErrOut, "rolehop: %s\n", cli.OneLine(e))
		}
		return &cli.ExitError{Code: cli.ExitUsage}
	case errors.As(err, &ce):
		return cli.UsageError(err)
	}
	return err
}

func runBroker(ctx context.Context, opts *BrokerOptions) error {
	ios := opts.F.IO
	log := brokerLogger(ios.ErrOut, opts.LogFormat, opts.F.Debug())
	cfg, err := broker.LoadConfig(opts.ConfigPath)
	if err != nil {
		return printConfigErrors(ios, err)
	}
	base, err := session.LoadProfile(ctx, cfg.Profile, func(o *session.ProfileOptions) {
		o.Region, o.Logger, o.Getenv = cfg.Region, log, opts.F.Getenv
	})
	if err != nil {
		return cli.ProfileError(err)
	}
	var st store.Store
	if cfg.Store == "memory" {
		st = store.NewMemory(opts.F.Now)
	} else {
		redisstore.SetLogger(log)
		if st, err = redisstore.New(cfg.Store, redisstore.Options{}); err != nil {
			return cli.UsageError(fmt.Errorf("store: %w", err))
		}
	}
	srv, err := broker.New(ctx, cfg, broker.Deps{
		Base: base, Store: st, Logger: log, Now: opts.F.Now,
		Audit: slog.New(slog.NewJSONHandler(ios.Out, nil)),
	})
	if err != nil {
		_ = st.Close()
		return printConfigErrors(ios, err)
	}
	defer srv.Close()
	if opts.PrintMetadata {
		_, err := ios.Out.Write(srv.SPMetadata())
		return err
	}
	if opts.Check {
		return printPlan(ios.Out, srv)
	}
	if err := st.Ping(ctx); err != nil {
		// Not fatal: the broker answers 503 pages until the store is back.
		log.Warn("broker: the session store does not answer yet", "err", err)
	}
	return serveBroker(ctx, opts, srv, log)
}

// printPlan prints what --check found.
func printPlan(w io.Writer, srv *broker.Server) error {
	cfg, plan := srv.Config(), srv.Plan()
	fmt.Fprintf(w, "configuration %s is valid\n", cfg.File)
	fmt.Fprintf(w, "broker URL %s, SP entity ID %s, ACS %s/saml/acs\n", cfg.ExternalURL, cfg.EntityID, cfg.ExternalURL)
	src := plan.Source
	if src == "" {
		src = "unknown source"
	}
	fmt.Fprintf(w, "broker credentials: %s (%s): role sessions up to %v\n", plan.Kind, src, plan.Max)
	for _, n := range plan.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, t := range cfg.Targets {
		tp := plan.Targets[t.Path]
		groups := strings.Join(t.Groups, ", ")
		if groups == "" {
			groups = "every signed-in user"
		}
		console := "console SessionDuration not sent"
		if tp.SessionDuration > 0 {
			console = "console SessionDuration " + tp.SessionDuration.String()
		}
		fmt.Fprintf(w, "target %s: %s, role session %v (%s), %s; groups: %s\n", cfg.URLPath(t), t.RoleARN, tp.Duration, tp.Console, console, groups)
	}
	return nil
}

func brokerLogger(w io.Writer, format string, debug bool) *slog.Logger {
	o := &slog.HandlerOptions{Level: slog.LevelInfo}
	if debug {
		o.Level = slog.LevelDebug
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// serveBroker listens, serves until ctx ends, reloads on SIGHUP, and
// drains and shuts down gracefully.
func serveBroker(ctx context.Context, opts *BrokerOptions, srv *broker.Server, log *slog.Logger) error {
	cfg := srv.Config()
	reload := opts.reload
	if reload == nil {
		// Before anything is served: a SIGHUP must never find the default
		// action (exit) in place.
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGHUP)
		defer signal.Stop(ch)
		reload = ch
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var certs *broker.TLSCerts
	if cfg.TLSCertFile != "" {
		certs, err = broker.LoadTLS(cfg)
		if err != nil {
			ln.Close()
			return cli.UsageError(err)
		}
		ln = tls.NewListener(ln, certs.Config())
	}
	hs := newHTTPServer(srv, log)
	servers := []*http.Server{hs}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	metricsAddr := ""
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			_ = hs.Close()
			return fmt.Errorf("listen on %s (metrics_listen): %w", cfg.MetricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		ms := newHTTPServer(mux, log)
		servers = append(servers, ms)
		metricsAddr = mln.Addr().String()
		go func() { errc <- ms.Serve(mln) }()
	}
	log.Info("broker: serving", "url", cfg.ExternalURL.String(), "listen", ln.Addr().String(), "metrics", metricsAddr,
		"targets", len(cfg.Targets), "store", storeKind(cfg.Store))
	if opts.listening != nil {
		opts.listening(ln.Addr().String(), metricsAddr)
	}

	for {
		select {
		case err := <-errc:
			return fmt.Errorf("broker: %w", err)
		case <-reload:
			if certs != nil {
				if err := certs.Reload(cfg); err != nil {
					log.Error("broker: TLS certificate reload refused; the current one stays", "err", err)
				}
			}
			if err := srv.ReloadFile(ctx, opts.ConfigPath); err != nil {
				var ces broker.ConfigErrors
				if errors.As(err, &ces) {
					for _, e := range ces {
						log.Error("broker: reload refused; the running configuration stays", "problem", e.Error())
					}
				} else {
					log.Error("broker: reload refused; the running configuration stays", "err", err)
				}
			}
		case <-ctx.Done():
			log.Info("broker: stopping", "drain", opts.Drain.String())
			srv.SetReady(false)
			if opts.Drain > 0 {
				time.Sleep(opts.Drain)
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			var first error
			for _, s := range servers {
				if err := s.Shutdown(sctx); err != nil && first == nil {
					first = err
				}
			}
			log.Info("broker: stopped")
			return first
		}
	}
}

func storeKind(s string) string {
	if s == "memory" {
		return "memory"
	}
	return "redis"
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
