package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/shared/fanout"
	"github.com/greenroom-live/greenroom/shared/media"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/turnserver"
)

// heartbeatEvery is the local worker's heartbeat: short, so a test that
// moves the clock sees the worker again within a second.
const heartbeatEvery = time.Second

// mediaPlane is the local stack's media: a TURN server and one SFU worker
// with its control API on 127.0.0.1, registered in the store by a
// heartbeat exactly as workers on ECS are.
type mediaPlane struct {
	turn      *turnserver.Server
	worker    *sfu.Worker
	udp       net.PacketConn
	tcp       net.Listener
	control   *http.Server
	served    chan error
	beat      *registry.Heartbeat
	stopBeat  context.CancelFunc
	beatDone  chan struct{}
	media     *media.Media
	turnURLs  []string
	workerURL string
}

// startMedia starts the media plane; its signaling leaves through notifier.
func startMedia(ctx context.Context, cfg Config, st store.Store, notifier *fanout.Notifier, turnSecret, workerSecret string) (_ *mediaPlane, err error) {
	p := &mediaPlane{served: make(chan error, 1), beatDone: make(chan struct{})}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	p.turn, err = turnserver.New(turnserver.Config{
		UDPAddrs: []string{"127.0.0.1:0"},
		TCPAddrs: []string{"127.0.0.1:0"},
		Secret:   turnSecret,
		// Everything runs on this machine: relaying to loopback is the
		// point here, and nowhere else.
		AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		Logger:     cfg.Logger.With("component", "turn"),
		Now:        cfg.Clock.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	for _, a := range p.turn.UDPAddrs() {
		p.turnURLs = append(p.turnURLs, "turn:"+a.String()+"?transport=udp")
	}
	for _, a := range p.turn.TCPAddrs() {
		p.turnURLs = append(p.turnURLs, "turn:"+a.String()+"?transport=tcp")
	}

	if p.udp, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("worker udp: %w", err)
	}
	if p.tcp, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("worker tcp: %w", err)
	}
	p.worker, err = sfu.New(sfu.Config{UDP: p.udp, TCP: p.tcp, Signal: control.SignalVia(notifier), Logger: cfg.Logger.With("component", "sfu")})
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	api, err := control.New(control.Config{Worker: p.worker, Secret: workerSecret, Logger: cfg.Logger.With("component", "control")})
	if err != nil {
		return nil, fmt.Errorf("control api: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("control api: %w", err)
	}
	p.workerURL = "http://" + ln.Addr().String()
	p.control = &http.Server{Handler: api, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}
	go func() { p.served <- p.control.Serve(ln) }()

	p.beat, err = registry.NewHeartbeat(registry.Config{Store: st, Source: p.worker, ID: "local", ControlURL: p.workerURL, Clock: cfg.Clock, Interval: heartbeatEvery})
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if err := p.beat.Beat(ctx); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	beatCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stopBeat = stop
	go func() {
		defer close(p.beatDone)
		p.beat.Run(beatCtx)
	}()
	p.media, err = media.New(media.Config{Store: st, Secret: workerSecret, Clock: cfg.Clock, Interval: heartbeatEvery, Logger: cfg.Logger.With("component", "media")})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return p, nil
}

// close stops the heartbeat, the control API, the worker and TURN, in
// that order. It tolerates a half-started plane.
func (p *mediaPlane) close() error {
	var err error

	if p.stopBeat != nil {
		p.stopBeat()
		<-p.beatDone
	}
	if p.control != nil {
		err = errors.Join(err, shutdown(p.control))
		if serveErr := <-p.served; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
	}
	if p.worker != nil {
		err = errors.Join(err, p.worker.Close())
	}
	if p.udp != nil {
		_ = p.udp.Close()
	}
	if p.tcp != nil {
		_ = p.tcp.Close()
	}
	if p.turn != nil {
		err = errors.Join(err, p.turn.Close())
	}
	return err
}

// Beat records a heartbeat now: tests that move a manual clock call it so
// the worker does not look lapsed.
func (s *Stack) Beat(ctx context.Context) error { return s.media.beat.Beat(ctx) }

// shutdown stops an in-process server whose callers have all stopped: a
// short grace for requests in flight, then close. Shutdown alone would wait
// up to five seconds on connections a client dialled but never used.
func shutdown(srv *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		return srv.Close()
	} else if err != nil {
		return err
	}
	return nil
}
