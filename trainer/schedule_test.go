package trainer

import (
	"testing"
	"time"
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
