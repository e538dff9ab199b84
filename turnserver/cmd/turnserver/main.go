// Command turnserver runs Greenroom's TURN server: TURN over UDP and TCP
// (and TLS with a certificate), REST-scheme credentials checked against
// the shared secret in GREENROOM_TURN_SECRET (or --secret-file), and a
// metrics and health endpoint. Every flag can also be set by an
// environment variable: --max-lifetime by GREENROOM_TURN_MAX_LIFETIME, and
// so on; a flag on the command line wins.
//
// --public-ip auto (GREENROOM_TURN_PUBLIC_IP=auto) makes the server find
// its own public IPv4 at start, for a Fargate task whose public IP changes
// at every start: the ECS task metadata when it holds a public address,
// else a STUN Binding request to --stun-servers (package publicip). That
// address is the relay address handed to clients.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/greenroom-live/greenroom/shared/publicip"
	"github.com/greenroom-live/greenroom/turnserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// secretEnv holds the shared secret when --secret-file is not given.
const secretEnv = "GREENROOM_TURN_SECRET"

// shutdownTimeout bounds the drain of the metrics server on shutdown.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "turnserver:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	udp, tcp, tlsAddr       string
	tlsCert, tlsKey         string
	publicIP, relayBindIP   string
	stunServers             string
	relayMinPort            uint
	relayMaxPort            uint
	realm, secretFile       string
	maxLifetime             time.Duration
	userQuota, totalQuota   int
	allowPeers, metricsAddr string
	logLevel                string
}

func parse(args []string, lookupEnv func(string) (string, bool), out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("turnserver", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.udp, "udp", turnserver.DefaultAddr, "comma-separated UDP listen addresses (empty: none)")
	fs.StringVar(&o.tcp, "tcp", turnserver.DefaultAddr, "comma-separated TCP listen addresses (empty: none)")
	fs.StringVar(&o.tlsAddr, "tls", turnserver.DefaultTLSAddr, "comma-separated TLS listen addresses, used when --tls-cert is given")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate chain file; enables TLS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fs.StringVar(&o.publicIP, "public-ip", "", "IPv4 address given to clients as their relay address (default: --relay-bind-ip or the first listen IP); \"auto\": find it at start from the ECS task metadata, else with STUN (--stun-servers)")
	fs.StringVar(&o.stunServers, "stun-servers", strings.Join(publicip.DefaultSTUNServers, ","), "comma-separated host:port of the STUN servers --public-ip auto asks")
	fs.StringVar(&o.relayBindIP, "relay-bind-ip", "", "local IPv4 address relay sockets bind to (default: the first listen IP, else 0.0.0.0)")
	fs.UintVar(&o.relayMinPort, "relay-min-port", 0, "lowest relay port (with --relay-max-port; default any)")
	fs.UintVar(&o.relayMaxPort, "relay-max-port", 0, "highest relay port (with --relay-min-port; default any)")
	fs.StringVar(&o.realm, "realm", turnserver.DefaultRealm, "long-term credential realm")
	fs.StringVar(&o.secretFile, "secret-file", "", "file holding the shared secret (default: $"+secretEnv+")")
	fs.DurationVar(&o.maxLifetime, "max-lifetime", turnserver.DefaultMaxLifetime, "longest a credential may still be valid for")
	fs.IntVar(&o.userQuota, "user-quota", turnserver.DefaultUserQuota, "allocations per user id (negative: no limit)")
	fs.IntVar(&o.totalQuota, "total-quota", turnserver.DefaultTotalQuota, "allocations in all (negative: no limit)")
	fs.StringVar(&o.allowPeers, "allow-peers", "", "comma-separated CIDRs of special-purpose peers relays may reach (e.g. 127.0.0.0/8,::1/128)")
	fs.StringVar(&o.metricsAddr, "metrics-addr", ":9090", "address of /metrics and /healthz (empty: none)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: turnserver [flags]\n\n"+
			"Greenroom's TURN server. The shared secret comes from $%s or --secret-file.\n"+
			"Each flag may be set by an environment variable, e.g. --max-lifetime by\n"+
			"GREENROOM_TURN_MAX_LIFETIME; the command line wins.\n\n", secretEnv)
		fs.PrintDefaults()
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "GREENROOM_TURN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookupEnv(name); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	return o, nil
}

// config turns the options into the server's configuration. With
// --public-ip auto it finds the public IP, after every other check.
func (o options) config(ctx context.Context, lookupEnv func(string) (string, bool), log *slog.Logger, reg *prometheus.Registry) (turnserver.Config, error) {
	cfg := turnserver.Config{
		UDPAddrs:    list(o.udp),
		TCPAddrs:    list(o.tcp),
		Realm:       o.realm,
		MaxLifetime: o.maxLifetime,
		UserQuota:   o.userQuota,
		TotalQuota:  o.totalQuota,
		Registry:    reg,
		Logger:      log,
	}
	if len(cfg.UDPAddrs) == 0 && len(cfg.TCPAddrs) == 0 {
		return cfg, errors.New("no UDP or TCP listen address")
	}
	if o.tlsCert != "" {
		cfg.TLSAddrs, cfg.TLSCertFile, cfg.TLSKeyFile = list(o.tlsAddr), o.tlsCert, o.tlsKey
	}
	var err error
	auto := o.publicIP == autoIP
	if o.publicIP != "" && !auto {
		if cfg.RelayIP, err = netip.ParseAddr(o.publicIP); err != nil {
			return cfg, fmt.Errorf("--public-ip: %w", err)
		}
	}
	stunServers := list(o.stunServers)
	if auto && len(stunServers) == 0 {
		return cfg, errors.New("--public-ip auto needs --stun-servers")
	}
	if o.relayBindIP != "" {
		if cfg.RelayBindIP, err = netip.ParseAddr(o.relayBindIP); err != nil {
			return cfg, fmt.Errorf("--relay-bind-ip: %w", err)
		}
	}
	if o.relayMinPort > 65535 || o.relayMaxPort > 65535 {
		return cfg, errors.New("relay ports must be at most 65535")
	}
	cfg.RelayMinPort, cfg.RelayMaxPort = uint16(o.relayMinPort), uint16(o.relayMaxPort)
	for _, c := range list(o.allowPeers) {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return cfg, fmt.Errorf("--allow-peers: %w", err)
		}
		cfg.AllowPeers = append(cfg.AllowPeers, p)
	}
	if o.secretFile != "" {
		b, err := os.ReadFile(o.secretFile)
		if err != nil {
			return cfg, fmt.Errorf("--secret-file: %w", err)
		}
		cfg.Secret = strings.TrimSpace(string(b))
	} else if v, ok := lookupEnv(secretEnv); ok {
		cfg.Secret = strings.TrimSpace(v)
	}
	if cfg.Secret == "" {
		return cfg, fmt.Errorf("no shared secret: set $%s or --secret-file", secretEnv)
	}
	if auto {
		metadataURI, _ := lookupEnv(publicip.MetadataEnv)
		res, err := publicip.Discover(ctx, publicip.Config{MetadataURI: metadataURI, STUNServers: stunServers, Logger: log})
		if err != nil {
			return cfg, fmt.Errorf("--public-ip auto: %w; give the address with --public-ip (GREENROOM_TURN_PUBLIC_IP) "+
				"or let the task reach a STUN server over UDP (--stun-servers, GREENROOM_TURN_STUN_SERVERS)", err)
		}
		cfg.RelayIP = res.Public
		log.Info("public IP found", "public_ip", res.Public.String(), "source", res.Source)
	}

	return cfg, nil
}

// autoIP is the --public-ip value that asks the server to find its public
// address.
const autoIP = "auto"

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}

	return out
}

// run serves until ctx ends, then drains the metrics server and closes the
// TURN server.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) error {
	o, err := parse(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg, err := o.config(ctx, lookupEnv, log, reg)
	if err != nil {
		return err
	}
	srv, err := turnserver.New(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Warn("close turn server", "err", err)
		}
	}()

	httpErr := make(chan error, 1)
	var hs *http.Server
	if o.metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "ok\n")
		})
		ln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return fmt.Errorf("listen metrics %s: %w", o.metricsAddr, err)
		}
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		log.Info("metrics listening", "addr", ln.Addr().String())
		go func() { httpErr <- hs.Serve(ln) }()
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-httpErr:
		return fmt.Errorf("metrics server: %w", err)
	}
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			log.Warn("shut down metrics server", "err", err)
		}
	}

	return nil
}
