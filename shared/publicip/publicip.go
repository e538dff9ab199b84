// Package publicip finds the public IPv4 address of the task it runs in,
// for servers that must advertise it (ICE NAT 1:1 in the SFU worker, the
// relay address of the TURN server) but get a new one at every start, as
// Fargate tasks do.
//
// Discover tries, in order:
//
//  1. The ECS task metadata endpoint v4 (ECS_CONTAINER_METADATA_URI_V4,
//     GET ${uri}/task). Its Containers[].Networks[].IPv4Addresses are the
//     task's own addresses: on Fargate they are private, since the public
//     IP is mapped one-to-one outside the task and is not in the
//     metadata. Discover returns the first as the private address; a
//     public one there (a host with a public address on its interface)
//     is the answer itself.
//  2. A STUN Binding request (RFC 8489) to each STUN server in turn, from
//     the task itself: the XOR-MAPPED-ADDRESS of the first answer is the
//     address the server saw, the task's public IP. Each server gets a
//     few retransmissions; the whole discovery is bounded by a timeout.
//  3. ErrNotFound, wrapping what each source answered.
//
// No AWS API is called, so the task needs no IAM permission; it needs
// outbound UDP to a STUN server.
package publicip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Defaults of Config.
const (
	// DefaultAttempts is how many Binding requests go to one STUN server.
	DefaultAttempts = 3
	// DefaultRTO is the wait for the first answer of a STUN server,
	// doubled at each retransmission: 0.5 s, 1 s, 2 s.
	DefaultRTO = 500 * time.Millisecond
	// DefaultTimeout bounds a whole Discover.
	DefaultTimeout = 10 * time.Second
	// metadataTimeout bounds the call to the task metadata endpoint, a
	// link-local address that answers in milliseconds.
	metadataTimeout = 2 * time.Second
)

// DefaultSTUNServers are public STUN servers asked in turn when
// Config.STUNServers is empty.
var DefaultSTUNServers = []string{"stun.l.google.com:19302", "stun.cloudflare.com:3478"}

// Config configures Discover. The zero value asks the default STUN
// servers and skips the task metadata.
type Config struct {
	// MetadataURI is the ECS task metadata endpoint v4, the value of
	// ECS_CONTAINER_METADATA_URI_V4; empty skips it.
	MetadataURI string
	// STUNServers are the host:port of STUN servers, asked in order until
	// one answers; DefaultSTUNServers when empty.
	STUNServers []string
	// Attempts is how many Binding requests go to each server
	// (DefaultAttempts when zero); RTO is the wait for the first answer,
	// doubled at each retry (DefaultRTO when zero).
	Attempts int
	RTO      time.Duration
	// Timeout bounds the whole discovery (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTPClient calls the metadata endpoint; one with a short timeout
	// when nil.
	HTTPClient *http.Client
	// Logger discards when nil.
	Logger *slog.Logger
}

// Result is what Discover found.
type Result struct {
	// Public is the task's public IPv4 address.
	Public netip.Addr
	// Private is the task's first address in the task metadata, its
	// private address on Fargate; zero without the metadata endpoint.
	Private netip.Addr
	// Source says where Public came from: "ecs-metadata" or
	// "stun:<server>".
	Source string
}

// Discover finds the task's public IPv4 address as the package comment
// describes, or returns ErrNotFound (wrapping each source's error) or
// ctx's error.
func Discover(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if len(cfg.STUNServers) == 0 {
		cfg.STUNServers = DefaultSTUNServers
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	var res Result
	var errs []error
	if cfg.MetadataURI != "" {
		addrs, err := metadataIPv4(ctx, cfg)
		if err != nil {
			cfg.Logger.WarnContext(ctx, "publicip: task metadata", "err", err)
			errs = append(errs, err)
		}
		for _, a := range addrs {
			if !res.Private.IsValid() {
				res.Private = a
			}
			if IsPublic(a) {
				res.Public, res.Source = a, "ecs-metadata"
				return res, nil
			}
		}
	}
	for _, s := range cfg.STUNServers {
		ip, err := STUN(ctx, s, cfg.Attempts, cfg.RTO)
		if err == nil {
			res.Public, res.Source = ip, "stun:"+s
			return res, nil
		}
		cfg.Logger.WarnContext(ctx, "publicip: stun server", "server", s, "err", err)
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return res, fmt.Errorf("%w (STUN servers %v): %w", ErrNotFound, cfg.STUNServers, errors.Join(errs...))
}

// PrivateIPv4 returns the task's first IPv4 address in the ECS task
// metadata at uri (its private address on Fargate), bounded by a short
// timeout; client is one with a short timeout when nil.
func PrivateIPv4(ctx context.Context, client *http.Client, uri string) (netip.Addr, error) {
	addrs, err := metadataIPv4(ctx, Config{MetadataURI: uri, HTTPClient: client})
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0], nil
}

func metadataIPv4(ctx context.Context, cfg Config) ([]netip.Addr, error) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: metadataTimeout}
	}
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	return TaskIPv4(ctx, client, cfg.MetadataURI)
}

// cgnat is the shared address space of RFC 6598, not reachable from the
// internet.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// IsPublic reports whether a is an IPv4 address that can be reached from
// the internet: global unicast, not private (RFC 1918), not shared (RFC
// 6598).
func IsPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.Is4() && a.IsGlobalUnicast() && !a.IsPrivate() && !cgnat.Contains(a)
}
