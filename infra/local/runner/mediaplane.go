package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/control"
	"github.com/greenroom-live/greenroom/sfuworker/registry"
	"github.com/greenroom-live/greenroom/sfuworker/sfu"
	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
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
	turn     *turnserver.Server
	workers  []*localWorker
	media    *media.Media
	turnURLs []string
}

// localWorker is one in-process SFU worker with its control API and its
// heartbeat, as one ECS task runs them.
type localWorker struct {
	id       string
	worker   *sfu.Worker
	udp      net.PacketConn
	tcp      net.Listener
	control  *http.Server
	served   chan error
	beat     *registry.Heartbeat
	stopBeat context.CancelFunc
	beatDone chan struct{}
	mu       sync.Mutex // Serializes close (a test hook may call it).
	stopped  bool
}

// startMedia starts the media plane; its signaling leaves through notifier.
func startMedia(ctx context.Context, cfg Config, st store.Store, notifier *fanout.Notifier, turnSecret, workerSecret string) (_ *mediaPlane, err error) {
	p := &mediaPlane{}
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

	for i := range max(cfg.Workers, 1) {
		w, err := startWorker(ctx, cfg, st, notifier, workerSecret, fmt.Sprintf("local-%d", i))
		if w != nil {
			p.workers = append(p.workers, w)
		}
		if err != nil {
			return nil, err
		}
	}
	p.media, err = media.New(media.Config{Store: st, Secret: workerSecret, Clock: cfg.Clock, Interval: heartbeatEvery, Logger: cfg.Logger.With("component", "media")})
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return p, nil
}

// startWorker starts one worker on its own UDP socket and TCP listener,
// its control API on 127.0.0.1 and its heartbeat.
func startWorker(ctx context.Context, cfg Config, st store.Store, notifier *fanout.Notifier, secret, id string) (w *localWorker, err error) {
	w = &localWorker{id: id, served: make(chan error, 1), beatDone: make(chan struct{})}
	if w.udp, err = udpbatch.Listen(ctx, "udp4", "127.0.0.1:0"); err != nil {
		return w, fmt.Errorf("worker udp: %w", err)
	}
	if w.tcp, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		return w, fmt.Errorf("worker tcp: %w", err)
	}
	log := cfg.Logger.With("component", "sfu", "worker", id)
	w.worker, err = sfu.New(sfu.Config{UDP: w.udp, TCP: w.tcp, Signal: control.SignalVia(notifier), Logger: log})
	if err != nil {
		return w, fmt.Errorf("worker: %w", err)
	}
	api, err := control.New(control.Config{Worker: w.worker, Secret: secret, Logger: log})
	if err != nil {
		return w, fmt.Errorf("control api: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return w, fmt.Errorf("control api: %w", err)
	}
	w.control = &http.Server{Handler: api, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn)}
	go func() { w.served <- w.control.Serve(ln) }()
	w.beat, err = registry.NewHeartbeat(registry.Config{Store: st, Source: w.worker, ID: id, ControlURL: "http://" + ln.Addr().String(), Clock: cfg.Clock, Interval: heartbeatEvery, Logger: log})
	if err != nil {
		return w, fmt.Errorf("heartbeat: %w", err)
	}
	if err := w.beat.Beat(ctx); err != nil {
		return w, fmt.Errorf("heartbeat: %w", err)
	}
	beatCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	w.stopBeat = stop
	go func() {
		defer close(w.beatDone)
		w.beat.Run(beatCtx)
	}()
	return w, nil
}

// close stops the heartbeat, the control API, the worker and its
// sockets, in that order: a crash as seen from outside. It tolerates a
// half-started worker and a second call.
func (w *localWorker) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return nil
	}
	w.stopped = true
	var err error
	if w.stopBeat != nil {
		w.stopBeat()
		<-w.beatDone
	}
	if w.control != nil {
		err = errors.Join(err, shutdown(w.control))
		if serveErr := <-w.served; !errors.Is(serveErr, http.ErrServerClosed) {
			err = errors.Join(err, serveErr)
		}
	}
	if w.worker != nil {
		err = errors.Join(err, w.worker.Close())
	}
	if w.udp != nil {
		_ = w.udp.Close()
	}
	if w.tcp != nil {
		_ = w.tcp.Close()
	}
	return err
}

// close stops every worker, then TURN.
func (p *mediaPlane) close() error {
	var err error
	for _, w := range p.workers {
		err = errors.Join(err, w.close())
	}
	if p.turn != nil {
		err = errors.Join(err, p.turn.Close())
	}
	return err
}

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

// KillWorker stops the in-process worker with that id as a crash would:
// no more heartbeats, no control API, no media. Tests use it to see a
// session's media move to another worker.
func (s *Stack) KillWorker(id string) error {
	for _, w := range s.media.workers {
		if w.id == id {
			return w.close()
		}
	}
	return fmt.Errorf("runner: no worker %q", id)
}
