package consumers

import (
	"fmt"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// IoTThresholds are the limits outside which an IoT reading raises an alert.
type IoTThresholds struct {
	// TempHigh and TempLow bound the temperature: above TempHigh or below
	// TempLow alerts.
	TempHigh, TempLow float64
	// HumidityMin and HumidityMax bound the relative humidity.
	HumidityMin, HumidityMax float64
	// BatteryLow: a battery level below it alerts.
	BatteryLow float64
}

// DefaultIoTThresholds returns temperature -20..60, humidity 0..100 and
// battery at least 5.
func DefaultIoTThresholds() IoTThresholds {
	return IoTThresholds{TempHigh: 60, TempLow: -20, HumidityMin: 0, HumidityMax: 100, BatteryLow: 5}
}

// Alert is one reading outside its threshold.
type Alert struct {
	// Device is the reading's device ID.
	Device string
	// Field is "temp", "humidity" or "battery".
	Field     string
	Value     float64
	Threshold float64
	// Above is true when Value exceeded Threshold, false when it fell below.
	Above bool
	// Time is the reading's time.
	Time time.Time
	// ShardID is the shard the reading came from.
	ShardID string
}

// String describes the alert, such as "sensor-0042 temp 71.3 (> 60)".
func (a Alert) String() string {
	op := "<"
	if a.Above {
		op = ">"
	}
	return fmt.Sprintf("%s %s %s (%s %s)", a.Device, a.Field, fmtNum(a.Value), op, fmtNum(a.Threshold))
}

// IoTAlerts is a Processor for IoT readings
// ({"device","temp","humidity","battery","ts"}): it raises an Alert for
// each value outside its IoTThresholds, keeps the latest ones, and counts
// the devices seen in the last Window. It is safe for concurrent use.
type IoTAlerts struct {
	clock engine.Clock
	th    IoTThresholds
	keep  int

	mu        sync.Mutex // guards what follows
	alerts    []Alert    // ring of the latest keep alerts
	next      int        // where the next alert goes once the ring is full
	count     int64
	devices   map[string]int64 // device → last second seen
	lastPrune int64
	readings  int64
	skipped   int64
	other     int64
}

// NewIoTAlerts returns an IoTAlerts with the given thresholds that keeps
// the latest keep alerts (default 20 when keep ≤ 0), with windows read
// from clock (SystemClock when nil).
func NewIoTAlerts(clock engine.Clock, th IoTThresholds, keep int) *IoTAlerts {
	if clock == nil {
		clock = engine.SystemClock{}
	}
	if keep <= 0 {
		keep = 20
	}
	return &IoTAlerts{clock: clock, th: th, keep: keep, devices: make(map[string]int64)}
}

type iotRecord struct {
	Device   *string  `json:"device"`
	Temp     *float64 `json:"temp"`
	Humidity *float64 `json:"humidity"`
	Battery  *float64 `json:"battery"`
	TS       *string  `json:"ts"`
}

type iotReading struct {
	device string
	sec    int64
	alerts []Alert
}

// Process checks the readings among records. Records that are not JSON
// objects, lack a device or carry no measurement are counted as skipped;
// JSON objects with none of the IoT fields as other.
func (p *IoTAlerts) Process(shardID string, records []engine.Record) error {
	now := p.clock.Now()
	readings := make([]iotReading, 0, len(records))
	var skipped, other int64
	for _, r := range records {
		var c iotRecord
		if err := decodeObject(r.Data, &c); err != nil {
			skipped++
			continue
		}
		if c.Device == nil && c.Temp == nil && c.Humidity == nil && c.Battery == nil {
			other++
			continue
		}
		if c.Device == nil || *c.Device == "" || (c.Temp == nil && c.Humidity == nil && c.Battery == nil) {
			skipped++
			continue
		}
		t := eventTime(c.TS, r, now)
		rd := iotReading{device: *c.Device, sec: t.Unix()}
		alert := func(field string, v, limit float64, above bool) {
			rd.alerts = append(rd.alerts, Alert{Device: rd.device, Field: field, Value: v,
				Threshold: limit, Above: above, Time: t, ShardID: shardID})
		}
		if v := c.Temp; v != nil {
			if *v > p.th.TempHigh {
				alert("temp", *v, p.th.TempHigh, true)
			} else if *v < p.th.TempLow {
				alert("temp", *v, p.th.TempLow, false)
			}
		}
		if v := c.Humidity; v != nil {
			if *v > p.th.HumidityMax {
				alert("humidity", *v, p.th.HumidityMax, true)
			} else if *v < p.th.HumidityMin {
				alert("humidity", *v, p.th.HumidityMin, false)
			}
		}
		if v := c.Battery; v != nil && *v < p.th.BatteryLow {
			alert("battery", *v, p.th.BatteryLow, false)
		}
		readings = append(readings, rd)
	}

	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.readings += int64(len(readings))
	p.skipped += skipped
	p.other += other
	for _, rd := range readings {
		if inWindow(rd.sec, nowSec) {
			if last, ok := p.devices[rd.device]; !ok || rd.sec > last {
				p.devices[rd.device] = rd.sec
			}
		}
		for _, a := range rd.alerts {
			p.count++
			if len(p.alerts) < p.keep {
				p.alerts = append(p.alerts, a)
				continue
			}
			p.alerts[p.next] = a
			p.next = (p.next + 1) % p.keep
		}
	}
	p.prune(nowSec)
	return nil
}

// prune forgets devices not seen within the window, once per second.
// Called with p.mu held.
func (p *IoTAlerts) prune(nowSec int64) {
	if nowSec == p.lastPrune {
		return
	}
	p.lastPrune = nowSec
	for d, sec := range p.devices {
		if sec <= nowSec-windowSecs {
			delete(p.devices, d)
		}
	}
}

// IoTAlertsResult is an immutable picture of an IoTAlerts.
type IoTAlertsResult struct {
	At time.Time
	// Alerts are the latest alerts, newest first.
	Alerts []Alert
	// AlertCount counts every alert raised.
	AlertCount int64
	// Devices is the number of devices seen in the window.
	Devices int
	// Readings counts the readings processed; Skipped the records that were
	// not JSON or lacked fields; Other the records of other kinds.
	Readings, Skipped, Other int64
}

// Result returns the alerts and counts as of the clock's now.
func (p *IoTAlerts) Result() IoTAlertsResult {
	now := p.clock.Now()
	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(nowSec)
	res := IoTAlertsResult{At: now, AlertCount: p.count, Readings: p.readings, Skipped: p.skipped, Other: p.other}
	res.Alerts = make([]Alert, 0, len(p.alerts))
	// Newest first: the ring's newest is just before p.next once full.
	for i := 1; i <= len(p.alerts); i++ {
		j := (p.next - i + len(p.alerts)) % len(p.alerts)
		if len(p.alerts) < p.keep {
			j = len(p.alerts) - i
		}
		res.Alerts = append(res.Alerts, p.alerts[j])
	}
	for _, sec := range p.devices {
		if inWindow(sec, nowSec) {
			res.Devices++
		}
	}
	return res
}

// Summary returns the latest alert, such as "⚠ sensor-0042 temp 71.3 (> 60)",
// or the number of devices when there is none.
func (p *IoTAlerts) Summary() string { return p.Result().Summary() }

// Summary returns the latest alert, or the number of devices when there is none.
func (r IoTAlertsResult) Summary() string {
	if len(r.Alerts) == 0 {
		return fmt.Sprintf("✓ no alerts · %d devices", r.Devices)
	}
	return "⚠ " + r.Alerts[0].String()
}
