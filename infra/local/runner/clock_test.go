package runner_test

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v4"

	"github.com/greenroom-live/greenroom/infra/local/runner"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/httpapi"
)

// TestOneClockAnyDate is the guard against two clocks meeting: the same
// short whole-stack flow (join, the socket, state.get, chat, a TURN
// allocation with the minted credentials, the scheduler's sweeps while
// half an hour passes) with the stack's one clock far in the past, far in the future
// and near now. A component that read the wall clock for a rule of the
// product (a connection's expiry, a token's, a TURN credential's) would
// judge the other components' times wrong in at least one of them.
func TestOneClockAnyDate(t *testing.T) {
	for _, start := range []time.Time{
		time.Date(2020, time.January, 1, 9, 0, 0, 0, time.UTC),
		time.Date(2035, time.June, 1, 9, 0, 0, 0, time.UTC),
		testStart,
	} {
		t.Run(start.Format("2006-01-02"), func(t *testing.T) {
			s, clock := stackAt(t, start, func(c *runner.Config) { c.SweepEvery = 20 * time.Millisecond })
			c := newClient(t, s.URL)
			hostID, aID := newUser(t, c, "Host"), newUser(t, c, "A")
			id := hosted(t, c, hostID, "primetime")
			host := connect(t, c, hostID, id, "web")
			host.ok("session.start", nil)
			a := connect(t, c, aID, id, "web")

			check := func(when string) {
				t.Helper()
				host.state() // A message from each client keeps it active.
				st := a.state()
				mm := members(st)
				for _, who := range []string{hostID.ID, aID.ID} {
					if mm[who]["connected"] != true {
						t.Fatalf("%s: %s not connected: %v", when, who, mm[who])
					}
				}
				a.ok("chat.send", map[string]any{"text": "at " + when})
				if e := host.expect("chat.message", aID.ID); e["text"] != "at "+when {
					t.Fatalf("%s: chat %v", when, e)
				}
			}
			check("join")

			// The TURN credentials expire by the stack's clock, and the
			// TURN server takes them.
			ice := iceServers(a)
			if len(ice) == 0 {
				t.Fatal("no TURN servers in the join reply")
			}
			stamp, user, _ := strings.Cut(ice[0].Username, ":")
			if want := clock.Now().Add(httpapi.DefaultTURNTTL).Unix(); stamp != strconv.FormatInt(want, 10) || user != aID.ID {
				t.Fatalf("TURN username %q, want %d:%s", ice[0].Username, want, aID.ID)
			}
			allocate(t, s.TURNURLs, ice[0].Username, ice[0].Credential.(string))

			// Sweeps run while time passes on the stack's clock, in
			// steps shorter than API Gateway's idle timeout with a
			// message in each: nobody is judged gone.
			for step := range 4 {
				waitSweeps()
				clock.Advance(domain.MaxIdle - time.Minute)
				waitSweeps()
				check(fmt.Sprintf("step %d", step+1))
			}
		})
	}
}

// waitSweeps lets the scheduler, sweeping every 20 ms in these tests, run
// several times; what is checked afterwards is that nothing changed.
func waitSweeps() { time.Sleep(150 * time.Millisecond) }

// allocate makes a real TURN allocation on the stack's UDP TURN server.
func allocate(t *testing.T, urls []string, username, password string) {
	t.Helper()
	var server string
	for _, u := range urls {
		if strings.HasPrefix(u, "turn:") && strings.HasSuffix(u, "?transport=udp") {
			server = strings.TrimSuffix(strings.TrimPrefix(u, "turn:"), "?transport=udp")
		}
	}
	if server == "" {
		t.Fatalf("no UDP TURN server in %v", urls)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelDisabled
	cl, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server,
		Username: username, Password: password,
		Conn: conn, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := cl.Allocate()
	if err != nil {
		t.Fatalf("TURN allocation with the minted credentials: %v", err)
	}
	_ = relay.Close()
}
