package sfu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
)

// loadGenEnv makes the test binary a load generator (TestLoadGenerator)
// when BenchmarkWorker re-executes it.
const loadGenEnv = "GREENROOM_SFU_LOADGEN"

// benchWindow is the steady window the CPU figures are measured over;
// GREENROOM_SFU_BENCH_WINDOW (a Go duration) lengthens it, as the
// side-by-side runs against LiveKit in docs/sfu.md do (20s).
var benchWindow = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("GREENROOM_SFU_BENCH_WINDOW")); err == nil && d > 0 {
		return d
	}
	return 4 * time.Second
}()

// benchSettle is the wait between the joins and the window;
// GREENROOM_SFU_BENCH_SETTLE lengthens it (a warm-up as long as the
// LiveKit runs').
var benchSettle = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("GREENROOM_SFU_BENCH_SETTLE")); err == nil && d > 0 {
		return d
	}
	return time.Second
}()

// benchProfile, GREENROOM_SFU_BENCH_ALLOCS, is a file name prefix: the
// benchmark writes the heap profile at the start of the window to
// PREFIX.start and at its end to PREFIX.end, so that
// `go tool pprof -sample_index=alloc_objects -diff_base PREFIX.start
// BIN PREFIX.end` shows what allocated during the window alone. Run it
// with -test.memprofilerate=1 for every allocation.
var benchProfile = os.Getenv("GREENROOM_SFU_BENCH_ALLOCS")

// writeHeapProfile writes the heap profile to name, if benchProfile is set.
func writeHeapProfile(tb testing.TB, name string) {
	if benchProfile == "" {
		return
	}
	f, err := os.Create(benchProfile + "." + name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	runtime.GC() // The profile is as of the last collection.
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the process's resident set in bytes (/proc/self/status VmRSS).
func rss() int64 { return procStatus("VmRSS:") }

// peakRSS is the process's peak resident set in bytes (VmHWM).
func peakRSS() int64 { return procStatus("VmHWM:") }

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// wireMsg is one line between the benchmark and its load generator:
// signaling (T is media.*), or control (pub, join, joined).
type wireMsg struct {
	T   string          `json:"t"`
	M   MemberID        `json:"m,omitempty"`
	P   json.RawMessage `json:"p,omitempty"`
	IDs []MemberID      `json:"ids,omitempty"`
	Lat []float64       `json:"lat,omitempty"` // Join to first keyframe (audio only: packet), ms.
	// FromOffer is each member's time from its offer leaving to its
	// first keyframe (packet), ms: Lat less the load generator making 50
	// PeerConnections at once on the worker's processors.
	FromOffer []float64 `json:"fromOffer,omitempty"`
	Missing   int       `json:"missing,omitempty"`
	Audio     bool      `json:"audio,omitempty"` // pub: audio only; join: wait for audio.
	N         int       `json:"n,omitempty"`     // counted: RTP packets the subscribers received.
}

type wire struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (w *wire) send(m wireMsg) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(m)
}

// BenchmarkWorker measures the worker as LiveKit's figure in
// ../shared/design/BENCHMARKS.md is measured: the publisher and
// subscriber peers run in a separate process (this test binary
// re-executed as TestLoadGenerator), so the CPU (getrusage over a steady
// window), allocations and memory reported are the worker's process
// alone. One publisher (VP8 ≈1.6 Mbit/s: 30 frames/s of 6 packets written
// back to back, as an encoder hands a frame over and as LiveKit's load
// tester sends, 180 pkt/s, keyframes on request; Opus 50 pkt/s with
// audio levels) to 20 and 50 subscribers who join at
// once: the loads of LiveKit's figures in issue 15; then 5 audio-only
// publishers (Opus, 50 pkt/s each) to 50 subscribers, a panel's sound.
// heap-KiB/sub-track is the heap per subscribed track. Run with
// -benchtime 1x; each load takes about 10 s.
func BenchmarkWorker(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{20, 50} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) { benchWorker(b, exe, n, 1, false) })
	}
	b.Run("audio-pubs=5/subs=50", func(b *testing.B) { benchWorker(b, exe, 50, 5, true) })
}

// benchWorker measures pubs publishers (video and audio, or audio only)
// to n subscribers.
func benchWorker(b *testing.B, exe string, n, pubs int, audioOnly bool) {
	udp, err := udpbatch.Listen(context.Background(), "udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer udp.Close()
	// Two pipes: the worker's signaling to the peers, theirs back.
	toChildR, toChildW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	fromChildR, fromChildW, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	out := &wire{enc: json.NewEncoder(toChildW)}
	const room = RoomID("bench")
	w, err := New(Config{UDP: udp, Signal: func(_ context.Context, _ RoomID, m MemberID, _ ConnectionID, typ string, p json.RawMessage) error {
		return out.send(wireMsg{T: typ, M: m, P: p})
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestLoadGenerator$", "-test.count=1")
	cmd.Env = append(os.Environ(), loadGenEnv+"=1")
	cmd.ExtraFiles = []*os.File{toChildR, fromChildW} // fds 3 and 4.
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	toChildR.Close()
	fromChildW.Close()
	var qwg sync.WaitGroup
	defer func() {
		toChildW.Close() // The generator stops on EOF.
		_ = cmd.Wait()
		qwg.Wait()
	}()

	// Peers' signaling goes to the worker in order per member, members in
	// parallel, as their WebSocket connections would.
	joined := make(chan wireMsg, 1)
	counted := make(chan int, 1)
	var qmu sync.Mutex
	queues := map[MemberID]chan wireMsg{}
	go func() {
		sc := bufio.NewScanner(fromChildR)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m wireMsg
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if m.T == "joined" {
				joined <- m
				continue
			}
			if m.T == "counted" {
				counted <- m.N
				continue
			}
			qmu.Lock()
			q := queues[m.M]
			if q == nil {
				q = make(chan wireMsg, 256)
				queues[m.M] = q
				qwg.Add(1)
				go func() {
					defer qwg.Done()
					for m := range q {
						_ = w.Signal(ctx, room, m.M, m.T, m.P)
					}
				}()
			}
			qmu.Unlock()
			q <- m
		}
		qmu.Lock()
		for _, q := range queues {
			close(q)
		}
		qmu.Unlock()
	}()

	var members []MemberState
	for i := range pubs {
		members = append(members, on(pubID(i), true, MainGroup))
	}
	if err := w.Apply(ctx, RoomState{Room: room, Version: 1, Members: members}); err != nil {
		b.Fatal(err)
	}
	tracks := 2 * pubs
	if audioOnly {
		tracks = pubs
	}
	for i := range pubs {
		if err := out.send(wireMsg{T: "pub", M: pubID(i), Audio: audioOnly}); err != nil {
			b.Fatal(err)
		}
	}
	for w.Stats().Tracks < tracks {
		if ctx.Err() != nil {
			b.Fatal("the publisher's tracks never arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// n members join at once.
	ids := make([]MemberID, n)
	for i := range ids {
		ids[i] = MemberID(fmt.Sprintf("s%02d", i))
		members = append(members, on(ids[i], false, MainGroup))
	}
	if err := w.Apply(ctx, RoomState{Room: room, Version: 2, Members: members}); err != nil {
		b.Fatal(err)
	}
	joinCPU := cpuTime()
	if err := out.send(wireMsg{T: "join", IDs: ids, Audio: audioOnly}); err != nil {
		b.Fatal(err)
	}
	var res wireMsg
	select {
	case res = <-joined:
	case <-ctx.Done():
		b.Fatal("the load generator never reported the joins")
	}
	joinCPU = cpuTime() - joinCPU
	if len(res.Lat) == 0 {
		b.Fatal("no member got media")
	}
	slices.Sort(res.Lat)
	slices.Sort(res.FromOffer)
	time.Sleep(benchSettle) // Let the joins' negotiation settle before measuring.
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rss1 := rss()
	// (RSS per subscriber is not reported: the runtime returns memory
	// freed by the previous size's run, so its delta is noise.)

	b.ResetTimer()
	var bs0, bs1 udpbatch.Stats
	if w.batch != nil {
		bs0 = w.batch.Stats()
	}
	// received is the number of RTP packets all subscribers have received
	// from the publishers so far, as the load generator counts them.
	received := func() int {
		if out.send(wireMsg{T: "count"}) != nil {
			return 0
		}
		select {
		case n := <-counted:
			return n
		case <-ctx.Done():
			return 0
		}
	}
	recv0 := received()
	st0, cpu0 := w.Stats(), cpuTime()
	var m0, m1 runtime.MemStats
	writeHeapProfile(b, "start")
	runtime.ReadMemStats(&m0)
	time.Sleep(benchWindow) // The bounded, steady measuring window.
	runtime.ReadMemStats(&m1)
	writeHeapProfile(b, "end")
	st1, cpu1 := w.Stats(), cpuTime()
	b.StopTimer()
	recv := float64(received() - recv0)
	if w.batch != nil {
		bs1 = w.batch.Stats()
	}
	if sends := bs1.Batches - bs0.Batches; sends > 0 {
		b.ReportMetric(float64(bs1.Packets-bs0.Packets)/float64(sends), "pkts/sendmmsg")
		b.ReportMetric(float64(bs1.Packets-bs0.Packets)/float64(max(bs1.Messages-bs0.Messages, 1)), "pkts/msg")
	}

	pk := float64(st1.PacketsForwarded - st0.PacketsForwarded)
	if pk == 0 {
		b.Fatal("nothing forwarded")
	}
	b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/pk, "cpu-µs/fwd-pkt")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/pk, "allocs/fwd-pkt")
	if recv > 0 {
		// The formula of issue 15's comparison with LiveKit.
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/recv, "cpu-µs/recv-pkt")
		b.ReportMetric(recv/benchWindow.Seconds(), "recv-pkt/s")
	}
	b.ReportMetric(pk/benchWindow.Seconds(), "fwd-pkt/s")
	// The publishers' packets read below pion (fastread.go), per second.
	b.ReportMetric(float64(st1.FastReads-st0.FastReads)/benchWindow.Seconds(), "fast-read-pkt/s")
	b.ReportMetric(100*(cpu1-cpu0).Seconds()/benchWindow.Seconds(), "cpu-%")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n)/1024, "heap-KiB/sub")
	b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/float64(n*tracks)/1024, "heap-KiB/sub-track")
	b.ReportMetric(float64(rss1)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-rss-MiB")
	b.ReportMetric(res.Lat[len(res.Lat)/2], "join-p50-ms")
	b.ReportMetric(res.Lat[(len(res.Lat)*99)/100], "join-p99-ms")
	b.ReportMetric(float64(res.Missing), "join-missing")
	// The worker's CPU from the join until the load generator has seen
	// every first keyframe, per member: negotiation, ICE, DTLS, and the
	// forwarding to those already in meanwhile.
	b.ReportMetric(float64(joinCPU.Microseconds())/1e3/float64(n), "join-cpu-ms/member")
	if len(res.FromOffer) > 0 {
		b.ReportMetric(res.FromOffer[len(res.FromOffer)/2], "offer-p50-ms")
		b.ReportMetric(res.FromOffer[(len(res.FromOffer)*99)/100], "offer-p99-ms")
	}
}

// TestLoadGenerator is BenchmarkWorker's peer process; it does nothing
// unless started by it. It reads the worker's signaling from fd 3 and
// writes the peers' to fd 4.
func TestLoadGenerator(t *testing.T) {
	if os.Getenv(loadGenEnv) == "" {
		t.Skip("started by BenchmarkWorker only")
	}
	in, outF := os.NewFile(3, "from-worker"), os.NewFile(4, "to-worker")
	defer outF.Close()
	out := &wire{enc: json.NewEncoder(outF)}
	var mu sync.Mutex
	peers := map[MemberID]*client{}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range peers {
			c.close()
		}
	}()
	add := func(id MemberID, o clientOpts) *client {
		c := newPeer(t, id, func(typ string, p json.RawMessage) error {
			return out.send(wireMsg{T: typ, M: id, P: p})
		}, o)
		mu.Lock()
		peers[id] = c
		mu.Unlock()
		c.start()
		return c
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m wireMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		switch m.T {
		case "pub":
			add(m.M, clientOpts{video: !m.Audio, audio: true, bench: true, keyOnRequest: true, level: func() uint8 { return 30 }})
		case "join":
			go join(m.IDs, m.Audio, add, out)
		case "count":
			n := 0
			mu.Lock()
			for id, c := range peers {
				if strings.HasPrefix(string(id), "pub") {
					continue
				}
				for from := range peers {
					if strings.HasPrefix(string(from), "pub") {
						n += c.count(from, "video") + c.count(from, "audio")
					}
				}
			}
			mu.Unlock()
			_ = out.send(wireMsg{T: "counted", N: n})
		default:
			mu.Lock()
			c := peers[m.M]
			mu.Unlock()
			if c != nil {
				c.inbox.push(m.T, m.P)
			}
		}
	}
}

// pubID names the benchmark's i-th publisher.
func pubID(i int) MemberID {
	if i == 0 {
		return "pub"
	}
	return MemberID(fmt.Sprintf("pub%d", i))
}

// join starts the members at once and reports, for each, the time from
// its start to its first video keyframe (audio only: its first audio
// packet) of the first publisher.
func join(ids []MemberID, audio bool, add func(MemberID, clientOpts) *client, out *wire) {
	start := time.Now()
	cs := make([]*client, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// As the web client joins: one receive-only audio and
			// video pair (web/media.js), which the worker's answer
			// fills with the stage's first tracks.
			cs[i] = add(id, clientOpts{recvVideo: true})
		}()
	}
	wg.Wait()
	res := wireMsg{T: "joined"}
	deadline := start.Add(15 * time.Second)
	first := func(c *client) time.Time {
		if audio {
			return c.firstPacket("pub", "audio")
		}
		at, _ := c.firstKey("pub")
		return at
	}
	for _, c := range cs {
		for {
			if at := first(c); !at.IsZero() || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if at := first(c); !at.IsZero() {
			res.Lat = append(res.Lat, float64(at.Sub(start).Microseconds())/1e3)
			if off := c.offeredAt.Load(); off != 0 {
				res.FromOffer = append(res.FromOffer, float64(at.UnixMicro()-off)/1e3)
			}
		} else {
			res.Missing++
		}
	}
	_ = out.send(res)
}
