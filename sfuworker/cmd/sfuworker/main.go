// Command sfuworker runs one SFU worker: pion PeerConnections for the
// members of the sessions assigned to it, ICE on one UDP port (UDP mux)
// and one TCP port, its control API for the session handlers, and a
// heartbeat in the worker registry. Server-originated signaling goes to
// members' connections through the API Gateway management API.
//
// With -public-ip auto the worker finds its own public IPv4 at start (the
// ECS task metadata, then STUN: package publicip) and advertises it for
// ICE. Its control URL in the registry is always a private address: the
// one -control-url gives, else the task's private IPv4 from the ECS task
// metadata, else the -control-addr host, else the host name's address.
//
// At every heartbeat it prints its load on stdout as one CloudWatch
// Embedded Metric Format line (emf.go), so CloudWatch Logs turns it into
// metrics that autoscaling can track without any AWS API call.
//
// On SIGTERM or SIGINT it drains: the heartbeat and /readyz report
// draining so no new rooms come, it waits for its rooms to empty (up to
// -drain-timeout), then closes. A worker that leaves with rooms keeps its
// registry record, which lapses, and the scheduler moves those rooms.
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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
	"github.com/greenroom-live/greenroom/shared/fanout"
	"github.com/greenroom-live/greenroom/shared/publicip"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/store/boltstore"
	"github.com/greenroom-live/greenroom/shared/store/dynamostore"
)

// secretEnv holds the shared control secret; it is never a flag, so it
// does not show in the process list.
const secretEnv = "GREENROOM_WORKER_SECRET"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sfuworker:", err)
		os.Exit(1)
	}
}

// config is the command's settings, from flags whose defaults come from
// the environment.
type config struct {
	controlAddr  string
	controlURL   string
	udpPort      int
	tcpPort      int
	publicIP     string
	stunServers  []string
	id           string
	capacity     int
	storeKind    string
	table        string
	ddbEndpoint  string
	dataDir      string
	heartbeat    time.Duration
	wsEndpoint   string
	drainTimeout time.Duration
	logLevel     string
	secret       string
	emf          bool
	emfService   string
}

// autoIP is the -public-ip value that asks the worker to find its public
// address.
const autoIP = "auto"

// parse reads flags over defaults taken from getenv.
func parse(args []string, getenv func(string) string, out io.Writer) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	envInt := func(k string, def int) int {
		if n, err := strconv.Atoi(getenv(k)); err == nil {
			return n
		}
		return def
	}
	envBool := func(k string, def bool) bool {
		if b, err := strconv.ParseBool(getenv(k)); err == nil {
			return b
		}
		return def
	}
	envDur := func(k string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(getenv(k)); err == nil {
			return d
		}
		return def
	}
	host, _ := os.Hostname()
	var c config
	fs := flag.NewFlagSet("sfuworker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: sfuworker [flags]\n\nRuns one SFU worker. The shared control secret is read from %s.\nEvery flag defaults to the environment variable named in brackets.\n\n", secretEnv)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.controlAddr, "control-addr", env("GREENROOM_WORKER_CONTROL_ADDR", ":7000"), "control API listen address [GREENROOM_WORKER_CONTROL_ADDR]")
	fs.StringVar(&c.controlURL, "control-url", env("GREENROOM_WORKER_CONTROL_URL", ""), "control API URL the session handlers use; when empty, http://<private address>:<port>: the task's private IPv4 from the ECS task metadata, else the -control-addr host, else the host name's address (never the public IP) [GREENROOM_WORKER_CONTROL_URL]")
	fs.IntVar(&c.udpPort, "udp-port", envInt("GREENROOM_WORKER_UDP_PORT", 50000), "UDP port all ICE traffic shares (0: any free port) [GREENROOM_WORKER_UDP_PORT]")
	fs.IntVar(&c.tcpPort, "tcp-port", envInt("GREENROOM_WORKER_TCP_PORT", 50000), "TCP port for ICE over TCP; 0 disables it [GREENROOM_WORKER_TCP_PORT]")
	fs.StringVar(&c.publicIP, "public-ip", env("GREENROOM_WORKER_PUBLIC_IP", ""), "public address ICE advertises (NAT 1:1); \"auto\": find it at start from the ECS task metadata, else with STUN (-stun-servers) [GREENROOM_WORKER_PUBLIC_IP]")
	stun := env("GREENROOM_WORKER_STUN_SERVERS", strings.Join(publicip.DefaultSTUNServers, ","))
	fs.StringVar(&stun, "stun-servers", stun, "comma-separated host:port of the STUN servers -public-ip auto asks [GREENROOM_WORKER_STUN_SERVERS]")
	fs.StringVar(&c.id, "id", env("GREENROOM_WORKER_ID", host), "worker id in the registry [GREENROOM_WORKER_ID]")
	fs.IntVar(&c.capacity, "capacity", envInt("GREENROOM_WORKER_CAPACITY", registry.DefaultCapacity), "members the worker takes [GREENROOM_WORKER_CAPACITY]")
	fs.StringVar(&c.storeKind, "store", env("GREENROOM_STORE", "dynamodb"), "registry store: dynamodb or embedded [GREENROOM_STORE]")
	fs.StringVar(&c.table, "table", env("GREENROOM_TABLE", "greenroom"), "DynamoDB table [GREENROOM_TABLE]")
	fs.StringVar(&c.ddbEndpoint, "dynamodb-endpoint", env("GREENROOM_DYNAMODB_ENDPOINT", ""), "DynamoDB endpoint (DynamoDB Local); AWS when empty [GREENROOM_DYNAMODB_ENDPOINT]")
	fs.StringVar(&c.dataDir, "data", env("GREENROOM_DATA", ".greenroom"), "directory of the embedded store [GREENROOM_DATA]")
	fs.DurationVar(&c.heartbeat, "heartbeat", envDur("GREENROOM_WORKER_HEARTBEAT", registry.DefaultInterval), "heartbeat interval [GREENROOM_WORKER_HEARTBEAT]")
	fs.StringVar(&c.wsEndpoint, "ws-endpoint", env("GREENROOM_WS_ENDPOINT", ""), "WebSocket API management endpoint for server-originated signaling [GREENROOM_WS_ENDPOINT]")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", envDur("GREENROOM_WORKER_DRAIN_TIMEOUT", 10*time.Minute), "how long a draining worker waits for its rooms to empty [GREENROOM_WORKER_DRAIN_TIMEOUT]")
	fs.StringVar(&c.logLevel, "log-level", env("GREENROOM_LOG_LEVEL", "info"), "debug, info, warn or error [GREENROOM_LOG_LEVEL]")
	fs.BoolVar(&c.emf, "emf", envBool("GREENROOM_WORKER_EMF", true), "print the load on stdout at every heartbeat as CloudWatch Embedded Metric Format (namespace "+emfNamespace+") [GREENROOM_WORKER_EMF]")
	fs.StringVar(&c.emfService, "emf-service", env("GREENROOM_WORKER_EMF_SERVICE", "sfuworker"), "value of the metrics' Service dimension [GREENROOM_WORKER_EMF_SERVICE]")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	c.secret = getenv(secretEnv)
	for _, s := range strings.Split(stun, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.stunServers = append(c.stunServers, s)
		}
	}
	switch {
	case len(c.secret) < control.MinSecretLen:
		return c, fmt.Errorf("%s must hold a secret of at least %d bytes", secretEnv, control.MinSecretLen)
	case c.wsEndpoint == "":
		return c, errors.New("-ws-endpoint (GREENROOM_WS_ENDPOINT) is required")
	case c.id == "":
		return c, errors.New("-id is required")
	case c.udpPort < 0 || c.udpPort > 65535 || c.tcpPort < 0 || c.tcpPort > 65535:
		return c, errors.New("-udp-port and -tcp-port must be ports")
	case c.publicIP != "" && c.publicIP != autoIP && net.ParseIP(c.publicIP) == nil:
		return c, fmt.Errorf("-public-ip %q is neither an IP address nor %q", c.publicIP, autoIP)
	case c.publicIP == autoIP && len(c.stunServers) == 0:
		return c, errors.New("-public-ip auto needs -stun-servers")
	case c.emf && c.emfService == "":
		return c, errors.New("-emf-service is required with -emf")
	}
	if c.controlURL == "" {
		if _, _, err := net.SplitHostPort(c.controlAddr); err != nil {
			return c, fmt.Errorf("-control-addr: %w", err)
		}
	}
	return c, nil
}

// addrs are the worker's addresses: the one ICE advertises and the one
// the session handlers reach the control API on.
type addrs struct {
	publicIP   string
	controlURL string
}

// resolveAddrs finds the public IP when cfg asks for "auto" and the
// control URL when cfg gives none. The control URL is never built on the
// public IP: the control port is open to the VPC only. It tries the
// task's private IPv4 from the ECS task metadata (metadataURI, empty
// outside ECS), then the -control-addr host when it is a specific
// address, then the host name's first non-loopback IPv4 (lookup), then
// the host name itself.
func resolveAddrs(ctx context.Context, cfg config, metadataURI, hostname string, lookup func(context.Context, string) ([]netip.Addr, error), log *slog.Logger) (addrs, error) {
	a := addrs{publicIP: cfg.publicIP, controlURL: cfg.controlURL}
	var private netip.Addr
	if cfg.publicIP == autoIP {
		res, err := publicip.Discover(ctx, publicip.Config{MetadataURI: metadataURI, STUNServers: cfg.stunServers, Logger: log})
		if err != nil {
			return a, fmt.Errorf("-public-ip auto: %w; give the address with -public-ip (GREENROOM_WORKER_PUBLIC_IP) "+
				"or let the task reach a STUN server over UDP (-stun-servers, GREENROOM_WORKER_STUN_SERVERS)", err)
		}
		a.publicIP, private = res.Public.String(), res.Private
		log.Info("public IP found", "publicIp", a.publicIP, "source", res.Source)
	} else if metadataURI != "" && a.controlURL == "" {
		ip, err := publicip.PrivateIPv4(ctx, nil, metadataURI)
		if err != nil {
			log.Warn("no private IPv4 in the ECS task metadata", "err", err)
		}
		private = ip
	}
	if a.controlURL != "" {
		return a, nil
	}
	host, port, err := net.SplitHostPort(cfg.controlAddr)
	if err != nil {
		return a, fmt.Errorf("-control-addr: %w", err)
	}
	listen, _ := netip.ParseAddr(host)
	switch {
	case private.IsValid():
		host = private.String()
	case listen.IsValid() && !listen.IsUnspecified():
		host = listen.String()
	case host != "" && !listen.IsValid():
		// A host name in -control-addr: the handlers resolve it.
	default:
		host = hostname
		ips, err := lookup(ctx, hostname)
		if err != nil {
			log.Warn("host name without an address; the control URL uses the name", "hostname", hostname, "err", err)
		}
		for _, ip := range ips {
			if ip = ip.Unmap(); ip.Is4() && !ip.IsLoopback() && !ip.IsUnspecified() {
				host = ip.String()
				break
			}
		}
	}
	if host == "" {
		return a, errors.New("no address for the control URL: set -control-url")
	}
	a.controlURL = "http://" + net.JoinHostPort(host, port)
	return a, nil
}

// run runs the worker until ctx is done, then drains. EMF lines go to
// stdout, logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("workerId", cfg.id)
	hostname, _ := os.Hostname()
	addr, err := resolveAddrs(ctx, cfg, getenv(publicip.MetadataEnv), hostname,
		func(ctx context.Context, h string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip4", h)
		}, log)
	if err != nil {
		return err
	}

	st, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = closeStore() }()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	notifier, err := fanout.New(fanout.Config{
		Client: apigatewaymanagementapi.NewFromConfig(awsCfg, func(o *apigatewaymanagementapi.Options) {
			o.BaseEndpoint = aws.String(cfg.wsEndpoint)
		}),
		Logger: log,
	})
	if err != nil {
		return err
	}

	// SO_REUSEPORT: the worker reads the port with one socket per
	// processor (udpbatch).
	udp, err := udpbatch.Listen(ctx, "udp", ":"+strconv.Itoa(cfg.udpPort))
	if err != nil {
		return fmt.Errorf("ICE UDP: %w", err)
	}
	defer udp.Close()
	var tcp net.Listener
	if cfg.tcpPort > 0 {
		if tcp, err = net.Listen("tcp", ":"+strconv.Itoa(cfg.tcpPort)); err != nil {
			return fmt.Errorf("ICE TCP: %w", err)
		}
		defer tcp.Close()
	}
	var publicIPs []string
	if addr.publicIP != "" {
		publicIPs = []string{addr.publicIP}
	}
	worker, err := sfu.New(sfu.Config{UDP: udp, TCP: tcp, PublicIPs: publicIPs, Signal: control.SignalVia(notifier), Logger: log})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer worker.Close()

	api, err := control.New(control.Config{Worker: worker, Secret: cfg.secret, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.controlAddr)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var workers registry.Workers = st
	if cfg.emf {
		workers = &emfWorkers{Workers: st, stats: worker.Stats, emf: newEMF(stdout, cfg.emfService), log: log}
	}
	hb, err := registry.NewHeartbeat(registry.Config{
		Store: workers, Source: worker, ID: cfg.id, ControlURL: addr.controlURL,
		Capacity: cfg.capacity, Interval: cfg.heartbeat, Logger: log,
	})
	if err != nil {
		return err
	}
	hbCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	beating := make(chan struct{})
	go func() {
		defer close(beating)
		hb.Run(hbCtx)
	}()
	log.Info("sfuworker started", "control", ln.Addr().String(), "controlUrl", addr.controlURL,
		"udp", udp.LocalAddr().String(), "tcpPort", cfg.tcpPort, "publicIp", addr.publicIP, "capacity", cfg.capacity)

	select {
	case <-ctx.Done():
	case err := <-served:
		stopBeats()
		<-beating
		return fmt.Errorf("control API: %w", err)
	}

	// Drain: no new rooms, wait for the rooms to empty, then close.
	log.Info("draining", "rooms", len(worker.Rooms()), "timeout", cfg.drainTimeout.String())
	api.SetDraining(true)
	hb.SetDraining(true)
	bg := context.WithoutCancel(ctx)
	if err := hb.Beat(bg); err != nil {
		log.Warn("draining heartbeat", "err", err)
	}
	left := waitEmpty(worker, cfg.drainTimeout)
	stopBeats()
	<-beating
	if left == 0 {
		if err := hb.Deregister(bg); err != nil {
			log.Warn("deregister", "err", err)
		}
	} else {
		log.Warn("drain timed out; the rooms left will be moved once the heartbeat lapses", "rooms", left)
	}
	shutCtx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	err = errors.Join(err, worker.Close())
	log.Info("sfuworker stopped")
	return err
}

// waitEmpty waits until the worker has no rooms or timeout passes, and
// returns how many rooms are left.
func waitEmpty(w *sfu.Worker, timeout time.Duration) int {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		n := len(w.Rooms())
		if n == 0 {
			return 0
		}
		select {
		case <-deadline.C:
			return n
		case <-tick.C:
		}
	}
}

// openStore opens the registry's store.
func openStore(ctx context.Context, cfg config) (store.Store, func() error, error) {
	switch cfg.storeKind {
	case "embedded":
		db, err := boltstore.Open(filepath.Join(cfg.dataDir, "greenroom.db"))
		if err != nil {
			return nil, nil, err
		}
		return db, db.Close, nil
	case "dynamodb":
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("aws config: %w", err)
		}
		client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
			if cfg.ddbEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.ddbEndpoint)
			}
		})
		return dynamostore.New(client, cfg.table), func() error { return nil }, nil
	default:
		return nil, nil, fmt.Errorf("-store %q: want dynamodb or embedded", cfg.storeKind)
	}
}
