// Package cost turns the usage of a simulated run into money at a
// region's list prices, itemized, and sets beside it what Amazon Chime
// SDK and Amazon IVS Real-Time would charge for the same attendees.
package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// ErrIncomplete is returned by Load and Validate when a price the
// calculator needs is missing (zero) or the source is not named.
var ErrIncomplete = errors.New("cost: prices incomplete")

// Prices are one region's list prices, in USD, kept in one data file
// (infra/sim/prices/<region>.json) with where and when they were read.
type Prices struct {
	Region string `json:"region"`
	// Date is when the prices were read from Source; every figure below
	// is a list price as published then (no free tier, first tier).
	Date   string            `json:"date"`
	Source map[string]string `json:"source"`

	LambdaPerMillionRequests float64 `json:"lambdaPerMillionRequests"`
	LambdaPerGBSecondARM     float64 `json:"lambdaPerGBSecondArm64"`
	WSMessagesPerMillion     float64 `json:"apiGatewayWebSocketMessagesPerMillion"`
	WSConnectionMinutesPerM  float64 `json:"apiGatewayWebSocketConnectionMinutesPerMillion"`
	HTTPRequestsPerMillion   float64 `json:"apiGatewayHttpRequestsPerMillion"`
	DynamoWRUPerMillion      float64 `json:"dynamodbWriteRequestUnitsPerMillion"`
	DynamoRRUPerMillion      float64 `json:"dynamodbReadRequestUnitsPerMillion"`
	FargateVCPUHourARM       float64 `json:"fargateVcpuHourArm64"`
	FargateGBHourARM         float64 `json:"fargateGbHourArm64"`
	NATHour                  float64 `json:"natGatewayHour"`
	NATPerGB                 float64 `json:"natGatewayPerGb"`
	NLBHour                  float64 `json:"nlbHour"`
	NLBPerLCUHour            float64 `json:"nlbLcuHour"`
	PublicIPv4Hour           float64 `json:"publicIpv4Hour"`
	DataOutPerGB             float64 `json:"dataTransferOutPerGb"`
	// The managed services set beside Greenroom.
	ChimeAttendeeMinute    float64 `json:"chimeSdkAttendeeMinute"`
	IVSParticipantHour     float64 `json:"ivsRealTimeParticipantHour"`
	IVSParticipantHourNote string  `json:"ivsRealTimeNote,omitempty"`
	// Note says how the prices were read.
	Note string `json:"note,omitempty"`
}

// Load reads and validates a prices file.
func Load(path string) (Prices, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Prices{}, fmt.Errorf("cost: %w", err)
	}
	return Parse(b)
}

// Parse decodes and validates prices.
func Parse(b []byte) (Prices, error) {
	var p Prices
	if err := json.Unmarshal(b, &p); err != nil {
		return Prices{}, fmt.Errorf("cost: prices: %w", err)
	}
	return p, p.Validate()
}

// Validate returns ErrIncomplete naming the first price missing.
func (p Prices) Validate() error {
	if p.Region == "" || p.Date == "" || len(p.Source) == 0 {
		return fmt.Errorf("%w: region, date and source are required", ErrIncomplete)
	}
	for name, v := range map[string]float64{
		"lambda requests": p.LambdaPerMillionRequests, "lambda GB-s": p.LambdaPerGBSecondARM,
		"websocket messages": p.WSMessagesPerMillion, "websocket minutes": p.WSConnectionMinutesPerM,
		"http requests": p.HTTPRequestsPerMillion, "dynamodb writes": p.DynamoWRUPerMillion,
		"dynamodb reads": p.DynamoRRUPerMillion, "fargate vCPU": p.FargateVCPUHourARM, "fargate GB": p.FargateGBHourARM,
		"nat hour": p.NATHour, "nat GB": p.NATPerGB, "nlb hour": p.NLBHour, "nlb LCU": p.NLBPerLCUHour,
		"public IPv4": p.PublicIPv4Hour, "data out": p.DataOutPerGB,
		"chime": p.ChimeAttendeeMinute, "ivs": p.IVSParticipantHour,
	} {
		if v <= 0 {
			return fmt.Errorf("%w: %s", ErrIncomplete, name)
		}
	}
	return nil
}

// Usage is what one run consumed, over its whole duration.
type Usage struct {
	LambdaRequests  float64
	LambdaGBSeconds float64
	WSMessages      float64 // billed WebSocket messages: client messages and @connections posts (32 KB units)
	WSConnMinutes   float64
	HTTPRequests    float64
	WriteUnits      float64 // DynamoDB on-demand write request units (table and index)
	ReadUnits       float64
	VCPUHours       float64 // Fargate tasks of the SFU workers and the TURN server
	GBHours         float64
	NATHours        float64
	NATGB           float64
	NLBHours        float64
	NLBLCUHours     float64
	IPv4Hours       float64
	DataOutGB       float64

	// AttendeeHours and SessionHours are what the cost is divided by.
	AttendeeHours float64
	SessionHours  float64
}

// Line is one item of a bill.
type Line struct {
	Item string
	USD  float64
}

// Bill is the itemized cost of a run and the managed services' price for
// the same attendee-hours.
type Bill struct {
	Lines         []Line
	Total         float64
	AttendeeHours float64
	SessionHours  float64
	Chime         float64 // Amazon Chime SDK for the same attendee-hours
	IVS           float64 // Amazon IVS Real-Time for the same participant-hours
}

// PerAttendeeHour is the total divided by the attendee-hours.
func (b Bill) PerAttendeeHour() float64 { return div(b.Total, b.AttendeeHours) }

// PerSessionHour is the total divided by the session-hours.
func (b Bill) PerSessionHour() float64 { return div(b.Total, b.SessionHours) }

// ChimeRatio and IVSRatio are how many times Greenroom's cost each
// managed service's price is.
func (b Bill) ChimeRatio() float64 { return div(b.Chime, b.Total) }

// IVSRatio is IVS Real-Time's price over Greenroom's cost.
func (b Bill) IVSRatio() float64 { return div(b.IVS, b.Total) }

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// Calculate prices u at p.
func Calculate(u Usage, p Prices) Bill {
	m := 1e6
	lines := []Line{
		{"Lambda requests", u.LambdaRequests / m * p.LambdaPerMillionRequests},
		{"Lambda GB-s (arm64)", u.LambdaGBSeconds * p.LambdaPerGBSecondARM},
		{"API Gateway WebSocket messages", u.WSMessages / m * p.WSMessagesPerMillion},
		{"API Gateway connection minutes", u.WSConnMinutes / m * p.WSConnectionMinutesPerM},
		{"API Gateway HTTP requests", u.HTTPRequests / m * p.HTTPRequestsPerMillion},
		{"DynamoDB writes (on demand)", u.WriteUnits / m * p.DynamoWRUPerMillion},
		{"DynamoDB reads (on demand)", u.ReadUnits / m * p.DynamoRRUPerMillion},
		{"Fargate vCPU (arm64)", u.VCPUHours * p.FargateVCPUHourARM},
		{"Fargate memory (arm64)", u.GBHours * p.FargateGBHourARM},
		{"NAT gateway hours", u.NATHours * p.NATHour},
		{"NAT gateway data", u.NATGB * p.NATPerGB},
		{"NLB (TURN) hours", u.NLBHours * p.NLBHour},
		{"NLB (TURN) LCU", u.NLBLCUHours * p.NLBPerLCUHour},
		{"Public IPv4", u.IPv4Hours * p.PublicIPv4Hour},
		{"Data transfer out", u.DataOutGB * p.DataOutPerGB},
	}
	b := Bill{Lines: lines, AttendeeHours: u.AttendeeHours, SessionHours: u.SessionHours}
	for _, l := range lines {
		b.Total += l.USD
	}
	b.Chime = u.AttendeeHours * 60 * p.ChimeAttendeeMinute
	b.IVS = u.AttendeeHours * p.IVSParticipantHour
	return b
}
