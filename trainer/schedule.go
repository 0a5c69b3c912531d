package trainer

import (
	"fmt"
	"time"
)

// Schedule says when the nightly job runs: every Every, or daily at
// HH:MM (local time) when At is set. The zero Schedule never runs.
type Schedule struct {
	Every time.Duration
	At    string
	hour  int
	min   int
}

// ParseSchedule validates --train-every and --train-at (at most one).
func ParseSchedule(every time.Duration, at string) (Schedule, error) {
	s := Schedule{Every: every, At: at}
	switch {
	case every != 0 && at != "":
		return s, fmt.Errorf("give --train-every or --train-at, not both")
	case every < 0 || (every > 0 && every < time.Minute):
		return s, fmt.Errorf("--train-every must be at least 1m, got %s", every)
	case at != "":
		t, err := time.Parse("15:04", at)
		if err != nil {
			return s, fmt.Errorf("--train-at must be HH:MM (24-hour), got %q", at)
		}
		s.hour, s.min = t.Hour(), t.Minute()
	}
	return s, nil
}

// Enabled reports whether the schedule ever runs.
func (s Schedule) Enabled() bool { return s.Every > 0 || s.At != "" }

// Next returns the first run time strictly after now.
func (s Schedule) Next(now time.Time) time.Time {
	if s.Every > 0 {
		return now.Add(s.Every)
	}
	// HH:MM of today, else of tomorrow, each built from the date: a day
	// added to today's time would carry the shift of a clock change (an
	// HH:MM that did not exist today, normalised an hour off, would give
	// tomorrow's run an hour off, and a second one at HH:MM).
	y, m, d := now.Date()
	next := time.Date(y, m, d, s.hour, s.min, 0, 0, now.Location())
	if !next.After(now) {
		next = time.Date(y, m, d+1, s.hour, s.min, 0, 0, now.Location())
	}
	return next
}
