package postgres

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector reports the pool's statistics (as database/sql's DBStatsCollector
// does for DuckDB's pool), whether the cache listener is connected, and how
// often the caches answered.
type Collector struct {
	s *Store

	maxConns, totalConns, acquiredConns, idleConns, constructing *prometheus.Desc
	acquires, emptyAcquires, canceledAcquires, acquireSeconds    *prometheus.Desc
	newConns, lifetimeDestroys, idleDestroys                     *prometheus.Desc
	listening, lookups                                           *prometheus.Desc
}

// Metrics returns the store's collector.
func (s *Store) Metrics() *Collector {
	labels := prometheus.Labels{"db_name": "postgres"}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("pgxpool_"+name, help, nil, labels)
	}
	return &Collector{s: s,
		maxConns:         desc("max_conns", "Largest size of the pool (DATABASE_MAX_CONNS)."),
		totalConns:       desc("total_conns", "Connections open in the pool."),
		acquiredConns:    desc("acquired_conns", "Connections in use."),
		idleConns:        desc("idle_conns", "Connections idle in the pool."),
		constructing:     desc("constructing_conns", "Connections being opened."),
		acquires:         desc("acquire_count_total", "Connections acquired from the pool."),
		emptyAcquires:    desc("empty_acquire_count_total", "Acquires that had to wait for a connection (the pool was empty)."),
		canceledAcquires: desc("canceled_acquire_count_total", "Acquires given up because their context ended."),
		acquireSeconds:   desc("acquire_duration_seconds_total", "Time spent acquiring connections."),
		newConns:         desc("new_conns_total", "Connections opened."),
		lifetimeDestroys: desc("max_lifetime_destroy_count_total", "Connections closed for reaching their maximum lifetime."),
		idleDestroys:     desc("max_idle_destroy_count_total", "Connections closed for idling too long."),
		listening: prometheus.NewDesc("duckgate_cache_listener_up",
			"1 while this replica listens for cache invalidations (its caches are on), 0 otherwise.", nil, nil),
		lookups: prometheus.NewDesc("duckgate_cache_lookups_total",
			"Lookups of this replica's user and session caches, by result (hit, miss).", []string{"result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxConns, c.totalConns, c.acquiredConns, c.idleConns, c.constructing, c.acquires,
		c.emptyAcquires, c.canceledAcquires, c.acquireSeconds, c.newConns, c.lifetimeDestroys, c.idleDestroys, c.listening, c.lookups} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.maxConns, float64(st.MaxConns()))
	gauge(c.totalConns, float64(st.TotalConns()))
	gauge(c.acquiredConns, float64(st.AcquiredConns()))
	gauge(c.idleConns, float64(st.IdleConns()))
	gauge(c.constructing, float64(st.ConstructingConns()))
	counter(c.acquires, float64(st.AcquireCount()))
	counter(c.emptyAcquires, float64(st.EmptyAcquireCount()))
	counter(c.canceledAcquires, float64(st.CanceledAcquireCount()))
	counter(c.acquireSeconds, st.AcquireDuration().Seconds())
	counter(c.newConns, float64(st.NewConnsCount()))
	counter(c.lifetimeDestroys, float64(st.MaxLifetimeDestroyCount()))
	counter(c.idleDestroys, float64(st.MaxIdleDestroyCount()))
	up := 0.0
	if c.s.cache.isLive() {
		up = 1
	}
	gauge(c.listening, up)
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(c.s.cache.hits.Load()), "hit")
	ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(c.s.cache.misses.Load()), "miss")
}
