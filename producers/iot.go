package producers

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// IoTConfig tunes the IoT generator; zero fields take defaults.
type IoTConfig struct {
	// Devices is the fleet size (default 200), keyed sensor-0001 … .
	Devices int
	// AnomalyProb is the probability that a reading is a temperature spike
	// above 60 °C (default 0.001; negative means never).
	AnomalyProb float64
}

// IoTReading is one telemetry record as JSON.
type IoTReading struct {
	Device   string  `json:"device"`
	Temp     float64 `json:"temp"`     // °C
	Humidity float64 `json:"humidity"` // % relative humidity
	Battery  float64 `json:"battery"`  // % charge
	TS       string  `json:"ts"`
	Site     string  `json:"site,omitempty"`
}

// AnomalyTemp is the temperature every anomalous reading exceeds and no
// normal reading reaches.
const AnomalyTemp = 60

// IoT generates sensor telemetry from a fleet of devices: temperature and
// humidity drift as mean-reverting random walks around per-device
// baselines, batteries drain slowly (and are replaced when flat), and a
// small share of readings are spikes.
type IoT struct {
	cfg     IoTConfig
	devices map[int]*device
}

type device struct {
	site                 string
	baseTemp, baseHum    float64
	temp, hum            float64
	battery, drainPerMsg float64
}

var iotSites = []string{"fra-1", "fra-2", "ams-1", "iad-1", "sfo-2", "sin-1"}

// NewIoT returns an IoT generator.
func NewIoT(cfg IoTConfig) *IoT {
	if cfg.Devices <= 0 {
		cfg.Devices = 200
	}
	if cfg.AnomalyProb == 0 {
		cfg.AnomalyProb = 0.001
	}
	return &IoT{cfg: cfg, devices: map[int]*device{}}
}

// Kind returns "iot".
func (*IoT) Kind() string { return "iot" }

// Entities returns the number of devices.
func (g *IoT) Entities() int { return g.cfg.Devices }

// Key returns sensor-NNNN for device i (1-based, four digits at least).
func (*IoT) Key(i int) string { return fmt.Sprintf("sensor-%04d", i+1) }

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// Next returns the next reading of a device chosen by keys.
func (g *IoT) Next(r *rand.Rand, now time.Time, keys KeyPicker) (string, []byte) {
	i := keys.Pick(r, g.cfg.Devices)
	d := g.devices[i]
	if d == nil {
		d = &device{
			site:        iotSites[i%len(iotSites)],
			baseTemp:    16 + 12*r.Float64(),
			baseHum:     35 + 25*r.Float64(),
			battery:     55 + 45*r.Float64(),
			drainPerMsg: 0.002 + 0.01*r.Float64(),
		}
		d.temp, d.hum = d.baseTemp, d.baseHum
		g.devices[i] = d
	}
	// Ornstein–Uhlenbeck steps: drift back towards the baseline plus noise.
	d.temp += 0.05*(d.baseTemp-d.temp) + 0.25*r.NormFloat64()
	d.temp = math.Max(-20, math.Min(45, d.temp))
	d.hum += 0.05*(d.baseHum-d.hum) + 0.6*r.NormFloat64()
	d.hum = math.Max(5, math.Min(99, d.hum))
	d.battery -= d.drainPerMsg * (0.5 + r.Float64())
	if d.battery < 3 {
		d.battery = 100 // swapped by a technician
	}
	temp := d.temp
	if g.cfg.AnomalyProb > 0 && r.Float64() < g.cfg.AnomalyProb {
		temp = AnomalyTemp + 1 + 40*r.Float64()
	}
	rd := IoTReading{
		Device:   g.Key(i),
		Temp:     round(temp, 2),
		Humidity: round(d.hum, 1),
		Battery:  round(d.battery, 2),
		TS:       now.UTC().Format(time.RFC3339Nano),
		Site:     d.site,
	}
	data, _ := json.Marshal(rd)
	return rd.Device, data
}
