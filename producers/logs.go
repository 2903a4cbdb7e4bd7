package producers

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// LogsConfig tunes the logs generator; zero fields take defaults.
type LogsConfig struct {
	// BurstProb is the probability, per record of a service, that a burst
	// of 5xx errors starts there (default 0.0002; negative means never).
	BurstProb float64
	// BurstRecords is the mean length of a burst in records of the service
	// (default 100).
	BurstRecords int
}

// LogLine is one service log record as JSON.
type LogLine struct {
	Service   string  `json:"service"`
	Instance  string  `json:"instance"`
	Level     string  `json:"level"` // INFO, WARN or ERROR
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Msg       string  `json:"msg"`
	TS        string  `json:"ts"`
}

// The log levels.
const (
	LevelInfo  = "INFO"
	LevelWarn  = "WARN"
	LevelError = "ERROR"
)

type route struct {
	method, path string
}

type service struct {
	name      string
	instances int
	routes    []route
	medianMS  float64 // median latency
	sigma     float64 // log-normal shape: larger is a longer tail
	slowMS    float64 // latency above which a request is logged as WARN
	clientErr float64 // probability of a 4xx
	errors    []string
}

var services = []service{
	{"api-gw", 4, []route{{"GET", "/v1/products"}, {"GET", "/v1/products/{id}"}, {"POST", "/v1/cart/items"}, {"GET", "/v1/search"}, {"POST", "/v1/checkout"}, {"GET", "/healthz"}},
		12, 0.6, 800, 0.04, []string{"upstream connect error", "upstream request timeout", "no healthy upstream"}},
	{"checkout", 3, []route{{"POST", "/checkout"}, {"GET", "/checkout/{id}"}, {"POST", "/checkout/{id}/confirm"}},
		85, 0.7, 2000, 0.03, []string{"payment authorization timed out", "inventory reservation failed", "order store write failed"}},
	{"search", 4, []route{{"GET", "/search"}, {"GET", "/suggest"}},
		40, 0.8, 1000, 0.02, []string{"index shard unavailable", "query timed out", "circuit breaker open"}},
	{"auth", 2, []route{{"POST", "/login"}, {"POST", "/token/refresh"}, {"POST", "/logout"}, {"GET", "/me"}},
		18, 0.5, 500, 0.10, []string{"session store unreachable", "signing key unavailable"}},
	{"cart", 3, []route{{"GET", "/cart"}, {"POST", "/cart/items"}, {"DELETE", "/cart/items/{id}"}, {"PATCH", "/cart/items/{id}"}},
		22, 0.6, 700, 0.03, []string{"redis: connection pool exhausted", "cart version conflict"}},
	{"payments", 2, []route{{"POST", "/charges"}, {"POST", "/refunds"}, {"GET", "/charges/{id}"}},
		160, 0.9, 3000, 0.05, []string{"card network timeout", "fraud check unavailable", "idempotency store error"}},
	{"catalog", 3, []route{{"GET", "/products/{id}"}, {"GET", "/products"}, {"GET", "/categories"}},
		25, 0.7, 800, 0.03, []string{"db: too many connections", "cache stampede: backend overloaded"}},
	{"recommendations", 2, []route{{"GET", "/recs/{id}"}, {"GET", "/recs/trending"}},
		60, 0.9, 1500, 0.01, []string{"model server unavailable", "feature store timeout"}},
}

// Logs generates access and error logs from a set of services, each with a
// few instances: mostly 2xx, some 4xx, occasional bursts of 5xx, and
// long-tailed per-service latencies.
type Logs struct {
	cfg       LogsConfig
	instances []logInstance
	burstLeft []int // per service
}

type logInstance struct {
	svc int
	key string
}

// NewLogs returns a logs generator.
func NewLogs(cfg LogsConfig) *Logs {
	if cfg.BurstProb == 0 {
		cfg.BurstProb = 0.0002
	}
	if cfg.BurstRecords <= 0 {
		cfg.BurstRecords = 100
	}
	g := &Logs{cfg: cfg, burstLeft: make([]int, len(services))}
	for s, svc := range services {
		for k := 1; k <= svc.instances; k++ {
			g.instances = append(g.instances, logInstance{svc: s, key: svc.name + "-" + strconv.Itoa(k)})
		}
	}
	return g
}

// Kind returns "logs".
func (*Logs) Kind() string { return "logs" }

// Entities returns the number of service instances.
func (g *Logs) Entities() int { return len(g.instances) }

// Key returns the instance name, such as checkout-3; entity 0 is api-gw-1.
func (g *Logs) Key(i int) string { return g.instances[i].key }

var (
	clientErrors = []int{404, 404, 404, 400, 400, 401, 403, 409, 429}
	serverErrors = []int{500, 500, 502, 503, 503, 504}
)

// Next returns the next log line of an instance chosen by keys.
func (g *Logs) Next(r *rand.Rand, now time.Time, keys KeyPicker) (string, []byte) {
	inst := g.instances[keys.Pick(r, len(g.instances))]
	svc := &services[inst.svc]
	rt := svc.routes[r.IntN(len(svc.routes))]
	path := rt.path
	if strings.Contains(path, "{id}") {
		path = strings.Replace(path, "{id}", strconv.Itoa(1000+r.IntN(90000)), 1)
	}
	if strings.HasSuffix(path, "/search") || path == "/suggest" {
		path += "?q=" + searchTerms[r.IntN(len(searchTerms))]
	}

	// Latency: log-normal around the service's median, with a rarer heavier
	// tail (GC pauses, cold caches, retries downstream).
	lat := svc.medianMS * math.Exp(svc.sigma*r.NormFloat64())
	if r.Float64() < 0.01 {
		lat *= 5 + 15*r.Float64()
	}

	// Status: a burst of 5xx may start; within one, about a third fail.
	if g.burstLeft[inst.svc] == 0 && g.cfg.BurstProb > 0 && r.Float64() < g.cfg.BurstProb {
		g.burstLeft[inst.svc] = 1 + int(r.ExpFloat64()*float64(g.cfg.BurstRecords))
	}
	serverErrP := 0.002
	if g.burstLeft[inst.svc] > 0 {
		g.burstLeft[inst.svc]--
		serverErrP = 0.35
	}
	status := 200
	switch x := r.Float64(); {
	case x < serverErrP:
		status = serverErrors[r.IntN(len(serverErrors))]
		if status == 504 || status == 503 {
			lat = math.Max(lat, 1000+4000*r.Float64()) // timed out waiting
		}
	case x < serverErrP+svc.clientErr:
		status = clientErrors[r.IntN(len(clientErrors))]
	case rt.method == "POST":
		status = 201
	case rt.method == "DELETE":
		status = 204
	case rt.method == "GET" && r.Float64() < 0.03:
		status = 304
	}
	lat = round(lat, 1)

	ln := LogLine{
		Service:   svc.name,
		Instance:  inst.key,
		Level:     LevelInfo,
		Method:    rt.method,
		Path:      path,
		Status:    status,
		LatencyMS: lat,
		TS:        now.UTC().Format(time.RFC3339Nano),
	}
	switch {
	case status >= 500:
		ln.Level = LevelError
		ln.Msg = fmt.Sprintf("%s %s failed: %s", rt.method, path, svc.errors[r.IntN(len(svc.errors))])
	case status >= 400:
		ln.Level = LevelWarn
		ln.Msg = fmt.Sprintf("%s %s %d %.1fms", rt.method, path, status, lat)
	case lat > svc.slowMS:
		ln.Level = LevelWarn
		ln.Msg = fmt.Sprintf("slow request: %s %s took %.1fms", rt.method, path, lat)
	default:
		ln.Msg = fmt.Sprintf("%s %s %d %.1fms", rt.method, path, status, lat)
	}
	data, _ := json.Marshal(ln)
	return ln.Instance, data
}
