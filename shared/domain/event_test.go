package domain_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// t0 is a grid time every test builds on.
var t0 = time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func win(fromMin, toMin int) domain.Window {
	return domain.Window{Start: at(fromMin), End: at(toMin)}
}

// validEvent is a normalized event that passes Validate: two windows of
// ten hours a day apart, cut into 30-minute slots.
func validEvent() domain.Event {
	e := domain.Event{
		ID:          "ev1",
		OrganizerID: "org1",
		Name:        "Career fair",
		Windows:     []domain.Window{win(0, 600), win(1440, 2040)},
		SlotMinutes: 30,
	}
	e.Normalize()
	return e
}

// fieldKeys returns the sorted field names of a FieldErrors error, or
// fails the test when err is not one.
func fieldKeys(t *testing.T, err error) []string {
	t.Helper()
	var f domain.FieldErrors
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a domain.FieldErrors", err, err)
	}
	return slices.Sorted(maps.Keys(f))
}

// checkFields asserts that err names exactly the fields want (none means
// err must be nil).
func checkFields(t *testing.T, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want fields %v", want)
	}
	want = slices.Sorted(slices.Values(want))
	if got := fieldKeys(t, err); !slices.Equal(got, want) {
		t.Fatalf("fields = %v, want %v (error: %v)", got, want, err)
	}
}

func TestEventNormalize(t *testing.T) {
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name  string
		in    domain.Event
		check func(t *testing.T, e domain.Event)
	}{
		{
			name: "zero limits get the defaults",
			in:   domain.Event{},
			check: func(t *testing.T, e domain.Event) {
				if e.Capacity != 50 {
					t.Errorf("Capacity = %d, want 50", e.Capacity)
				}
				if e.MaxSessions != 10000 {
					t.Errorf("MaxSessions = %d, want 10000", e.MaxSessions)
				}
				if e.MaxSessionsPerEmployer != 10000 {
					t.Errorf("MaxSessionsPerEmployer = %d, want 10000", e.MaxSessionsPerEmployer)
				}
				if e.SessionsPerSlot != 10000 {
					t.Errorf("SessionsPerSlot = %d, want 10000", e.SessionsPerSlot)
				}
				if want := (domain.StageLimits{MaxSpeakers: 4, MaxParticipants: 6}); e.Stage != want {
					t.Errorf("Stage = %+v, want %+v", e.Stage, want)
				}
			},
		},
		{
			name: "per employer and per slot default to the event's maxSessions",
			in:   domain.Event{MaxSessions: 20},
			check: func(t *testing.T, e domain.Event) {
				if e.MaxSessions != 20 || e.MaxSessionsPerEmployer != 20 || e.SessionsPerSlot != 20 {
					t.Errorf("limits = %d/%d/%d, want 20/20/20", e.MaxSessions, e.MaxSessionsPerEmployer, e.SessionsPerSlot)
				}
			},
		},
		{
			name: "explicit values are kept",
			in: domain.Event{
				Capacity: 12, MaxSessions: 30, MaxSessionsPerEmployer: 3, SessionsPerSlot: 2,
				Stage: domain.StageLimits{MaxSpeakers: 2, MaxParticipants: 3},
			},
			check: func(t *testing.T, e domain.Event) {
				if e.Capacity != 12 || e.MaxSessions != 30 || e.MaxSessionsPerEmployer != 3 || e.SessionsPerSlot != 2 {
					t.Errorf("limits changed: %+v", e)
				}
				if want := (domain.StageLimits{MaxSpeakers: 2, MaxParticipants: 3}); e.Stage != want {
					t.Errorf("Stage = %+v, want %+v", e.Stage, want)
				}
			},
		},
		{
			name: "a stage with only participants set is kept as given",
			in:   domain.Event{Stage: domain.StageLimits{MaxParticipants: 3}},
			check: func(t *testing.T, e domain.Event) {
				if want := (domain.StageLimits{MaxParticipants: 3}); e.Stage != want {
					t.Errorf("Stage = %+v, want %+v", e.Stage, want)
				}
			},
		},
		{
			name: "a stage with no participants on screen is kept as given",
			in:   domain.Event{Stage: domain.StageLimits{MaxSpeakers: 2}},
			check: func(t *testing.T, e domain.Event) {
				if want := (domain.StageLimits{MaxSpeakers: 2}); e.Stage != want {
					t.Errorf("Stage = %+v, want %+v", e.Stage, want)
				}
			},
		},
		{
			name: "windows are put in UTC and sorted by start",
			in: domain.Event{Windows: []domain.Window{
				{Start: at(300).In(cest), End: at(360).In(cest)},
				{Start: at(0).In(cest), End: at(60).In(cest)},
				{Start: at(120), End: at(180)},
			}},
			check: func(t *testing.T, e domain.Event) {
				want := []domain.Window{win(0, 60), win(120, 180), win(300, 360)}
				if len(e.Windows) != len(want) {
					t.Fatalf("got %d windows, want %d", len(e.Windows), len(want))
				}
				for i, w := range e.Windows {
					if !w.Start.Equal(want[i].Start) || !w.End.Equal(want[i].End) {
						t.Errorf("windows[%d] = %v..%v, want %v..%v", i, w.Start, w.End, want[i].Start, want[i].End)
					}
					if w.Start.Location() != time.UTC || w.End.Location() != time.UTC {
						t.Errorf("windows[%d] not in UTC: %v..%v", i, w.Start, w.End)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in
			e.Normalize()
			tt.check(t, e)
		})
	}
}

func TestEventNormalizeThenValidate(t *testing.T) {
	e := domain.Event{Name: "Fair", Windows: []domain.Window{win(60, 120), win(0, 60)}, SlotMinutes: 30}
	e.Normalize()
	if err := e.Validate(); err != nil {
		t.Fatalf("a normalized minimal event is invalid: %v", err)
	}
}

func manyWindows(n int) []domain.Window {
	ws := make([]domain.Window, n)
	for i := range ws {
		ws[i] = win(i*120, i*120+60)
	}
	return ws
}

func TestEventValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *domain.Event)
		want   []string // field paths; none means valid
	}{
		{"valid", func(e *domain.Event) {}, nil},

		{"name empty", func(e *domain.Event) { e.Name = "" }, []string{"name"}},
		{"name 1 character", func(e *domain.Event) { e.Name = "x" }, nil},
		{"name 120 characters", func(e *domain.Event) { e.Name = strings.Repeat("a", 120) }, nil},
		{"name 121 characters", func(e *domain.Event) { e.Name = strings.Repeat("a", 121) }, []string{"name"}},
		{"name 120 characters in a multi-byte script", func(e *domain.Event) { e.Name = strings.Repeat("就", 120) }, nil},
		{"name 121 characters in a multi-byte script", func(e *domain.Event) { e.Name = strings.Repeat("就", 121) }, []string{"name"}},
		{"name 120 emoji", func(e *domain.Event) { e.Name = strings.Repeat("🎤", 120) }, nil},

		{"slotMinutes 4", func(e *domain.Event) { e.SlotMinutes = 4 }, []string{"slotMinutes"}},
		{"slotMinutes 5", func(e *domain.Event) { e.SlotMinutes = 5 }, nil},
		{"slotMinutes 480", func(e *domain.Event) { e.SlotMinutes = 480 }, nil},
		{"slotMinutes 481", func(e *domain.Event) { e.SlotMinutes = 481 }, []string{"slotMinutes"}},
		{"slotMinutes 0", func(e *domain.Event) { e.SlotMinutes = 0 }, []string{"slotMinutes"}},
		{"slotMinutes negative", func(e *domain.Event) { e.SlotMinutes = -30 }, []string{"slotMinutes"}},

		{"capacity 0", func(e *domain.Event) { e.Capacity = 0 }, []string{"capacity"}},
		{"capacity 1", func(e *domain.Event) { e.Capacity = 1 }, nil},
		{"capacity 50", func(e *domain.Event) { e.Capacity = 50 }, nil},
		{"capacity 51", func(e *domain.Event) { e.Capacity = 51 }, []string{"capacity"}},

		{"maxSessions 0", func(e *domain.Event) { e.MaxSessions, e.MaxSessionsPerEmployer, e.SessionsPerSlot = 0, 1, 1 }, []string{"maxSessions"}},
		{"maxSessions 10000", func(e *domain.Event) { e.MaxSessions = 10000 }, nil},
		{"maxSessions 10001", func(e *domain.Event) { e.MaxSessions = 10001 }, []string{"maxSessions"}},
		{"maxSessionsPerEmployer above maxSessions", func(e *domain.Event) { e.MaxSessions, e.MaxSessionsPerEmployer = 10, 11 }, []string{"maxSessionsPerEmployer"}},
		{"maxSessionsPerEmployer equal to maxSessions", func(e *domain.Event) { e.MaxSessions, e.MaxSessionsPerEmployer = 10, 10 }, nil},
		{"maxSessionsPerEmployer 0", func(e *domain.Event) { e.MaxSessionsPerEmployer = 0 }, []string{"maxSessionsPerEmployer"}},
		{"maxSessionsPerEmployer 10001", func(e *domain.Event) { e.MaxSessionsPerEmployer = 10001 }, []string{"maxSessionsPerEmployer"}},
		{"sessionsPerSlot 0", func(e *domain.Event) { e.SessionsPerSlot = 0 }, []string{"sessionsPerSlot"}},
		{"sessionsPerSlot 10001", func(e *domain.Event) { e.SessionsPerSlot = 10001 }, []string{"sessionsPerSlot"}},

		{"stage.maxSpeakers 4", func(e *domain.Event) { e.Stage.MaxSpeakers = 4 }, nil},
		{"stage.maxSpeakers 5", func(e *domain.Event) { e.Stage.MaxSpeakers = 5 }, []string{"stage.maxSpeakers"}},
		{"stage.maxSpeakers 0", func(e *domain.Event) { e.Stage.MaxSpeakers = 0 }, []string{"stage.maxSpeakers"}},
		{"stage.maxParticipants 0", func(e *domain.Event) { e.Stage.MaxParticipants = 0 }, nil},
		{"stage.maxParticipants 6", func(e *domain.Event) { e.Stage.MaxParticipants = 6 }, nil},
		{"stage.maxParticipants 7", func(e *domain.Event) { e.Stage.MaxParticipants = 7 }, []string{"stage.maxParticipants"}},
		{"stage.maxParticipants negative", func(e *domain.Event) { e.Stage.MaxParticipants = -1 }, []string{"stage.maxParticipants"}},

		{"windows empty", func(e *domain.Event) { e.Windows = nil }, []string{"windows"}},
		{"20 windows", func(e *domain.Event) { e.Windows = manyWindows(20) }, nil},
		{"21 windows", func(e *domain.Event) { e.Windows = manyWindows(21) }, []string{"windows"}},
		{"end before start", func(e *domain.Event) { e.Windows[1] = win(1440, 1380) }, []string{"windows[1].end"}},
		{"end equal start", func(e *domain.Event) { e.Windows[1] = win(1440, 1440) }, []string{"windows[1].end"}},
		{"shorter than one slot", func(e *domain.Event) { e.Windows[1] = win(1440, 1469) }, []string{"windows[1].end"}},
		{"exactly one slot", func(e *domain.Event) { e.Windows[1] = win(1440, 1470) }, nil},
		{"start missing", func(e *domain.Event) { e.Windows[0].Start = time.Time{} }, []string{"windows[0].start"}},
		{"end missing", func(e *domain.Event) { e.Windows[0].End = time.Time{} }, []string{"windows[0].end"}},
		{"overlapping windows", func(e *domain.Event) { e.Windows[1] = win(570, 700) }, []string{"windows[1].start"}},
		{"window inside another", func(e *domain.Event) { e.Windows[1] = win(60, 120) }, []string{"windows[1].start"}},
		{"windows that touch", func(e *domain.Event) { e.Windows[1] = win(600, 660) }, nil},
		{
			"only the overlapping window is named",
			func(e *domain.Event) {
				e.Windows = []domain.Window{win(0, 60), win(120, 180), win(150, 240), win(300, 360)}
			},
			[]string{"windows[2].start"},
		},
		{
			"every bad field is named",
			func(e *domain.Event) {
				e.Name = ""
				e.Capacity = 51
				e.Stage = domain.StageLimits{MaxSpeakers: 5, MaxParticipants: 7}
				e.Windows = []domain.Window{win(0, 60), win(30, 90), win(200, 200)}
			},
			[]string{"name", "capacity", "stage.maxSpeakers", "stage.maxParticipants", "windows[1].start", "windows[2].end"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			tt.mutate(&e)
			checkFields(t, e.Validate(), tt.want...)
		})
	}
}

// TestEventValidateMaxSlots bounds the grid: 2000 five-minute slots are
// 10000 minutes.
func TestEventValidateMaxSlots(t *testing.T) {
	const full = domain.MaxSlots * 5
	tests := []struct {
		name   string
		mutate func(e *domain.Event)
		want   []string
	}{
		{"exactly MaxSlots in one window", func(e *domain.Event) { e.Windows = []domain.Window{win(0, full)} }, nil},
		{"MaxSlots+1 in one window", func(e *domain.Event) { e.Windows = []domain.Window{win(0, full+5)} }, []string{"windows"}},
		{"MaxSlots+1 over two windows", func(e *domain.Event) {
			e.Windows = []domain.Window{win(0, full/2), win(full, full+full/2+5)}
		}, []string{"windows"}},
		{"a window of a year", func(e *domain.Event) { e.Windows = []domain.Window{win(0, 365*24*60)} }, []string{"windows"}},
		{"too many slots and a bad name", func(e *domain.Event) {
			e.Windows = []domain.Window{win(0, full+5)}
			e.Name = ""
		}, []string{"name", "windows"}},
		{"too many slots and a bad capacity", func(e *domain.Event) {
			e.Windows = []domain.Window{win(0, full+5)}
			e.Capacity = 0
		}, []string{"capacity", "windows"}},
		{"a bad slot length is not counted as too many slots", func(e *domain.Event) {
			e.Windows = []domain.Window{win(0, full)}
			e.SlotMinutes = 4
		}, []string{"slotMinutes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := validEvent()
			e.SlotMinutes = 5
			tt.mutate(&e)
			checkFields(t, e.Validate(), tt.want...)
		})
	}
}

func TestEventSlots(t *testing.T) {
	tests := []struct {
		name    string
		windows []domain.Window
		slotMin int
		want    []domain.Slot
	}{
		{
			name:    "one window cut exactly",
			windows: []domain.Window{win(0, 90)},
			slotMin: 30,
			want:    []domain.Slot{{at(0), at(30)}, {at(30), at(60)}, {at(60), at(90)}},
		},
		{
			name:    "several windows, each cut from its own start, tails dropped",
			windows: []domain.Window{win(0, 70), win(100, 165), win(200, 230)},
			slotMin: 30,
			want: []domain.Slot{
				{at(0), at(30)}, {at(30), at(60)}, // 60..70 dropped
				{at(100), at(130)}, {at(130), at(160)}, // 160..165 dropped
				{at(200), at(230)},
			},
		},
		{
			name:    "a window shorter than a slot gives none",
			windows: []domain.Window{win(0, 29), win(60, 90)},
			slotMin: 30,
			want:    []domain.Slot{{at(60), at(90)}},
		},
		{
			name:    "one slot of 480 minutes",
			windows: []domain.Window{win(0, 959)},
			slotMin: 480,
			want:    []domain.Slot{{at(0), at(480)}},
		},
		{
			name:    "no windows",
			slotMin: 30,
			want:    nil,
		},
		{
			name:    "a zero slot length gives no slots",
			windows: []domain.Window{win(0, 90)},
			slotMin: 0,
			want:    nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := domain.Event{Windows: tt.windows, SlotMinutes: tt.slotMin}
			got := e.Slots()
			if len(got) != len(tt.want) {
				t.Fatalf("got %d slots %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !got[i].Start.Equal(tt.want[i].Start) || !got[i].End.Equal(tt.want[i].End) {
					t.Errorf("slot %d = %v..%v, want %v..%v", i, got[i].Start, got[i].End, tt.want[i].Start, tt.want[i].End)
				}
				if got[i].End.Sub(got[i].Start) != time.Duration(tt.slotMin)*time.Minute {
					t.Errorf("slot %d lasts %v", i, got[i].End.Sub(got[i].Start))
				}
			}
		})
	}
}

func TestEventSlotsStopsPastMaxSlots(t *testing.T) {
	e := domain.Event{Windows: []domain.Window{win(0, 100*365*24*60)}, SlotMinutes: 5}
	if got := len(e.Slots()); got != domain.MaxSlots+1 {
		t.Fatalf("len(Slots()) = %d, want %d", got, domain.MaxSlots+1)
	}
}

func TestEventSlotAt(t *testing.T) {
	// Windows 09:00-10:10 and 11:10-12:10 with 30-minute slots: the grid is
	// 09:00, 09:30 and 11:10, 11:40; each window keeps its own phase.
	e := domain.Event{
		Name:        "Fair",
		Windows:     []domain.Window{win(0, 70), win(130, 190)},
		SlotMinutes: 30,
	}
	e.Normalize()
	if err := e.Validate(); err != nil {
		t.Fatalf("fixture invalid: %v", err)
	}
	cest := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name    string
		t       time.Time
		want    time.Time // start of the slot; zero means ErrOffGrid
		wantErr error
	}{
		{"first slot of the first window", at(0), at(0), nil},
		{"last slot of a window", at(30), at(30), nil},
		{"first slot of the second window", at(130), at(130), nil},
		{"last slot of the second window ends at the window end", at(160), at(160), nil},
		{"grid time in another zone", at(30).In(cest), at(30), nil},
		{"off grid by a minute", at(31), time.Time{}, domain.ErrOffGrid},
		{"off grid by a nanosecond", at(30).Add(time.Nanosecond), time.Time{}, domain.ErrOffGrid},
		{"a slot that would cross the window end", at(60), time.Time{}, domain.ErrOffGrid},
		{"the window end", at(70), time.Time{}, domain.ErrOffGrid},
		{"before the first window", at(-30), time.Time{}, domain.ErrOffGrid},
		{"between windows on the first window's phase", at(90), time.Time{}, domain.ErrOffGrid},
		{"inside the second window on the first window's phase", at(150), time.Time{}, domain.ErrOffGrid},
		{"after the last window", at(190), time.Time{}, domain.ErrOffGrid},
		{"zero time", time.Time{}, time.Time{}, domain.ErrOffGrid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.SlotAt(tt.t)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SlotAt(%v) error = %v, want %v", tt.t, err, tt.wantErr)
				}
				if got != (domain.Slot{}) {
					t.Errorf("SlotAt(%v) = %+v with an error, want the zero slot", tt.t, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("SlotAt(%v): %v", tt.t, err)
			}
			if !got.Start.Equal(tt.want) || !got.End.Equal(tt.want.Add(30*time.Minute)) {
				t.Errorf("SlotAt(%v) = %v..%v, want %v..%v", tt.t, got.Start, got.End, tt.want, tt.want.Add(30*time.Minute))
			}
			if got.Start.Location() != time.UTC || got.End.Location() != time.UTC {
				t.Errorf("SlotAt(%v) not in UTC: %v..%v", tt.t, got.Start, got.End)
			}
		})
	}
}

// TestEventSlotAtAgreesWithSlots checks that every slot of the grid is
// found by SlotAt and nothing else in the range is.
func TestEventSlotAtAgreesWithSlots(t *testing.T) {
	e := domain.Event{Windows: []domain.Window{win(0, 95), win(100, 160), win(300, 305)}, SlotMinutes: 15}
	grid := map[time.Time]bool{}
	for _, s := range e.Slots() {
		grid[s.Start] = true
	}
	for m := -20; m <= 320; m++ {
		tm := at(m)
		_, err := e.SlotAt(tm)
		if grid[tm] != (err == nil) {
			t.Errorf("minute %d: in Slots() = %v, SlotAt error = %v", m, grid[tm], err)
		}
	}
}

func TestFieldErrorsError(t *testing.T) {
	tests := []struct {
		name string
		f    domain.FieldErrors
		want string
	}{
		{"none", domain.FieldErrors{}, "domain: invalid"},
		{"one", domain.FieldErrors{"name": "must be 1 to 120 characters"}, "domain: invalid: name must be 1 to 120 characters"},
		{
			"several in sorted order",
			domain.FieldErrors{"windows[1].start": "b", "capacity": "a", "name": "c", "stage.maxSpeakers": "d"},
			"domain: invalid: capacity a; name c; stage.maxSpeakers d; windows[1].start b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 20 { // map order changes between runs; the text must not
				if got := tt.f.Error(); got != tt.want {
					t.Fatalf("run %d: Error() = %q, want %q", i, got, tt.want)
				}
			}
		})
	}
}

func TestValidateErrorIsStable(t *testing.T) {
	e := validEvent()
	e.Name, e.Capacity, e.SlotMinutes = "", 0, 1
	first := e.Validate().Error()
	for i := range 20 {
		if got := e.Validate().Error(); got != first {
			t.Fatalf("run %d: %q, then %q", i, first, got)
		}
	}
	for _, k := range []string{"capacity", "name", "slotMinutes"} {
		if !strings.Contains(first, k+" ") {
			t.Errorf("%q does not name %s", first, k)
		}
	}
	if i, j := strings.Index(first, "capacity"), strings.Index(first, "name"); i > j {
		t.Errorf("%q is not in sorted order", first)
	}
}

func TestNormalizeNamesTheLimitsLeftUnset(t *testing.T) {
	ev := validEvent()
	ev.MaxSessions, ev.MaxSessionsPerEmployer, ev.SessionsPerSlot, ev.Defaulted = 0, 0, 0, nil
	ev.Normalize()
	for _, name := range []string{domain.LimitMaxSessions, domain.LimitMaxSessionsPerEmployer, domain.LimitSessionsPerSlot} {
		if ev.LimitSet(name) {
			t.Errorf("%s counts as set", name)
		}
	}
	if ev.MaxSessions != domain.MaxSessionsLimit || ev.SessionsPerSlot != domain.MaxSessionsLimit {
		t.Errorf("internal defaults %d/%d", ev.MaxSessions, ev.SessionsPerSlot)
	}

	ev = validEvent()
	ev.MaxSessions, ev.MaxSessionsPerEmployer, ev.SessionsPerSlot, ev.Defaulted = 5, 0, 2, nil
	ev.Normalize()
	if !ev.LimitSet(domain.LimitMaxSessions) || ev.LimitSet(domain.LimitMaxSessionsPerEmployer) || !ev.LimitSet(domain.LimitSessionsPerSlot) {
		t.Errorf("defaulted %v", ev.Defaulted)
	}
	if ev.MaxSessionsPerEmployer != 5 {
		t.Errorf("per employer %d, want the event total", ev.MaxSessionsPerEmployer)
	}
	// An event stored before Defaulted was kept: the bound is no limit.
	old := domain.Event{MaxSessions: domain.MaxSessionsLimit, MaxSessionsPerEmployer: 3, SessionsPerSlot: domain.MaxSessionsLimit}
	if old.LimitSet(domain.LimitMaxSessions) || !old.LimitSet(domain.LimitMaxSessionsPerEmployer) || old.LimitSet(domain.LimitSessionsPerSlot) {
		t.Errorf("old event's limits misread")
	}
}
