package trainer

import (
	"testing"
	"time"
	_ "time/tzdata" // America/New_York wherever the tests run
)

func TestSchedule(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 11, 26, 15, 30, 0, 0, loc)
	tests := []struct {
		every time.Duration
		at    string
		want  time.Time
	}{
		{time.Hour, "", now.Add(time.Hour)},
		{0, "02:00", time.Date(2026, 11, 27, 2, 0, 0, 0, loc)},
		{0, "16:45", time.Date(2026, 11, 26, 16, 45, 0, 0, loc)},
		{0, "15:30", time.Date(2026, 11, 27, 15, 30, 0, 0, loc)},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.every, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Next(now); !got.Equal(tt.want) {
			t.Errorf("Next(%v, %q) = %v, want %v", tt.every, tt.at, got, tt.want)
		}
	}
	for _, bad := range []struct {
		every time.Duration
		at    string
	}{{time.Second, ""}, {0, "25:00"}, {0, "7pm"}, {time.Hour, "02:00"}, {-time.Hour, ""}} {
		if _, err := ParseSchedule(bad.every, bad.at); err == nil {
			t.Errorf("ParseSchedule(%v, %q) accepted", bad.every, bad.at)
		}
	}
	if (Schedule{}).Enabled() {
		t.Error("zero schedule enabled")
	}
}

// TestTrainAtAcrossClockChanges: --train-at runs once a day at HH:MM local
// time across daylight saving changes, including when HH:MM did not exist
// the day before (02:30 on a spring-forward day in New York). A day added
// to that day's normalised time gave the next day's run an hour early and
// a second one at 02:30.
func TestTrainAtAcrossClockChanges(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchedule(0, "02:30")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ now, want time.Time }{
		{time.Date(2026, 3, 8, 12, 0, 0, 0, loc), time.Date(2026, 3, 9, 2, 30, 0, 0, loc)},   // spring forward, after
		{time.Date(2026, 11, 1, 12, 0, 0, 0, loc), time.Date(2026, 11, 2, 2, 30, 0, 0, loc)}, // fall back, after
	} {
		if got := s.Next(c.now); !got.Equal(c.want) {
			t.Errorf("Next(%v) = %v, want %v", c.now, got, c.want)
		}
	}
	// The day 02:30 is missing, the run is within the hour it fell in
	// (Go picks 01:30 EST).
	got := s.Next(time.Date(2026, 3, 7, 12, 0, 0, 0, loc))
	if lo, hi := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC), time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC); got.Before(lo) || got.After(hi) {
		t.Errorf("the run on the day 02:30 is missing: %v, want between 01:30 EST and 03:30 EDT", got)
	}
	// A week of runs from before the change: one a day, each at 02:30
	// where that exists.
	now := time.Date(2026, 3, 5, 12, 0, 0, 0, loc)
	for range 7 {
		next := s.Next(now)
		if next.Day() == now.Day() || next.Sub(now) > 25*time.Hour {
			t.Errorf("after %v the next run is %v", now, next)
		}
		if next.Day() != 8 && (next.Hour() != 2 || next.Minute() != 30) {
			t.Errorf("run at %v, want 02:30", next)
		}
		now = next
	}
}
