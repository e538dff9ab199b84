package turnserver

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values of the metrics.
const (
	reasonMalformed = "malformed"
	reasonExpired   = "expired"
	reasonLifetime  = "lifetime"
	reasonRealm     = "realm"
	reasonIntegrity = "integrity"

	scopeUser  = "user"
	scopeTotal = "total"

	dirFromPeers = "from_peers"
	dirToPeers   = "to_peers"
)

// metrics are the server's Prometheus collectors, registered on the
// registry of Config.Registry.
type metrics struct {
	allocationsActive prometheus.Gauge
	allocationsTotal  prometheus.Counter
	authFailures      *prometheus.CounterVec
	permissionDenials prometheus.Counter
	quotaRefusals     *prometheus.CounterVec
	relayedBytes      *prometheus.CounterVec
	fromPeers         prometheus.Counter
	toPeers           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocationsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "allocations_active",
			Help: "TURN allocations that exist now.",
		}),
		allocationsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "allocations_total",
			Help: "TURN allocations created.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "auth_failures_total",
			Help: "TURN requests refused for their credentials, by reason (malformed, expired, lifetime, realm, integrity).",
		}, []string{"reason"}),
		permissionDenials: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "permission_denials_total",
			Help: "CreatePermission and ChannelBind requests refused for their peer address.",
		}),
		quotaRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "quota_refusals_total",
			Help: "Allocate requests refused with 486 Allocation Quota Reached, by quota (user, total).",
		}, []string{"scope"}),
		relayedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "greenroom", Subsystem: "turn", Name: "relayed_bytes_total",
			Help: "Bytes received from peers (before the permission check) and sent to peers on relay sockets.",
		}, []string{"direction"}),
	}
	for _, r := range []string{reasonMalformed, reasonExpired, reasonLifetime, reasonRealm, reasonIntegrity} {
		m.authFailures.WithLabelValues(r)
	}
	for _, s := range []string{scopeUser, scopeTotal} {
		m.quotaRefusals.WithLabelValues(s)
	}
	m.fromPeers = m.relayedBytes.WithLabelValues(dirFromPeers)
	m.toPeers = m.relayedBytes.WithLabelValues(dirToPeers)
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				reg.Unregister(done)
			}

			return nil, fmt.Errorf("turnserver: register metrics: %w", err)
		}
	}

	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.allocationsActive, m.allocationsTotal, m.authFailures,
		m.permissionDenials, m.quotaRefusals, m.relayedBytes,
	}
}

// unregister removes the collectors from reg, so a registry outlives the
// server that used it.
func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

// MetricsHandler serves the metrics of the server's registry (all of it,
// so collectors others registered there too) in the Prometheus exposition
// format; the caller mounts it, e.g. at /metrics.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}
