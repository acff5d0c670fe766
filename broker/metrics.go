package broker

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the broker's Prometheus series. Labels are bounded: target
// is a configured target's path or "" (unknown), outcome and reason come
// from fixed lists; no user name ever becomes a label.
type metrics struct {
	logins     *prometheus.CounterVec   // outcome: ok, refused
	refusals   *prometheus.CounterVec   // reason: signature, replay, audience, ...
	decisions  *prometheus.CounterVec   // target, outcome
	sts        *prometheus.HistogramVec // outcome: ok, error
	federation *prometheus.HistogramVec // outcome: ok, error
	storeErrs  *prometheus.CounterVec   // op
	reloads    *prometheus.CounterVec   // outcome: ok, error
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	buckets := []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolehop_broker_logins_total", Help: "SAML logins at the ACS, by outcome (ok, refused).",
		}, []string{"outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolehop_broker_login_refusals_total",
			Help: "Refused SAML responses by reason (signature, replay, audience, recipient, destination, expired, ...).",
		}, []string{"reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolehop_broker_decisions_total",
			Help: "Console requests by target and outcome (allowed, forbidden, unknown_target, sts_error, federation_error, ...).",
		}, []string{"target", "outcome"}),
		sts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rolehop_broker_sts_duration_seconds", Help: "sts:AssumeRole latency by outcome.", Buckets: buckets,
		}, []string{"outcome"}),
		federation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rolehop_broker_federation_duration_seconds", Help: "Federation endpoint (getSigninToken) latency by outcome.", Buckets: buckets,
		}, []string{"outcome"}),
		storeErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolehop_broker_store_errors_total", Help: "Session/replay store failures by operation.",
		}, []string{"op"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rolehop_broker_config_reloads_total", Help: "Configuration reloads (SIGHUP) by outcome.",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.logins, m.refusals, m.decisions, m.sts, m.federation, m.storeErrs, m.reloads} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"ok", "refused"} {
		m.logins.WithLabelValues(o)
	}
	m.refusals.WithLabelValues("replay")
	return m
}
