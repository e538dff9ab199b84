package cost_test

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/greenroom-live/greenroom/infra/sim/internal/cost"
)

func TestPriceFilesAreComplete(t *testing.T) {
	files, err := filepath.Glob("../../prices/*.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("price files: %v, %v", files, err)
	}
	for _, f := range files {
		if _, err := cost.Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCalculate(t *testing.T) {
	p, err := cost.Load("../../prices/us-east-1.json")
	if err != nil {
		t.Fatal(err)
	}
	// One million of each unit, one hour of each hourly item, 10 GB out.
	u := cost.Usage{
		LambdaRequests: 1e6, WSMessages: 1e6, WriteUnits: 1e6, ReadUnits: 1e6,
		VCPUHours: 1, GBHours: 1, NATHours: 1, IPv4Hours: 1, DataOutGB: 10,
		AttendeeHours: 100, SessionHours: 2,
	}
	b := cost.Calculate(u, p)
	want := p.LambdaPerMillionRequests + p.WSMessagesPerMillion + p.DynamoWRUPerMillion + p.DynamoRRUPerMillion +
		p.FargateVCPUHourARM + p.FargateGBHourARM + p.NATHour + p.PublicIPv4Hour + 10*p.DataOutPerGB
	if math.Abs(b.Total-want) > 1e-9 {
		t.Errorf("Total = %v, want %v", b.Total, want)
	}
	if got := b.PerAttendeeHour(); math.Abs(got-want/100) > 1e-12 {
		t.Errorf("PerAttendeeHour = %v, want %v", got, want/100)
	}
	if got := b.PerSessionHour(); math.Abs(got-want/2) > 1e-12 {
		t.Errorf("PerSessionHour = %v, want %v", got, want/2)
	}
	if math.Abs(b.Chime-100*60*p.ChimeAttendeeMinute) > 1e-9 || math.Abs(b.IVS-100*p.IVSParticipantHour) > 1e-9 {
		t.Errorf("Chime %v, IVS %v for 100 attendee-hours", b.Chime, b.IVS)
	}
	if b.ChimeRatio() <= 0 || b.IVSRatio() <= 0 {
		t.Errorf("ratios %v %v", b.ChimeRatio(), b.IVSRatio())
	}
}

func TestMissingPrice(t *testing.T) {
	_, err := cost.Parse([]byte(`{"region":"x","date":"2026-12-01","source":{"a":"b"},"lambdaPerMillionRequests":0.2}`))
	if !errors.Is(err, cost.ErrIncomplete) {
		t.Errorf("Parse of incomplete prices = %v, want ErrIncomplete", err)
	}
}
