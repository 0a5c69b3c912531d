package trainer

import (
	"context"
	"testing"

	"lift"
)

// slowActive is a real store whose ActiveModel waits for a signal after
// reading: a registry poll overtaken by an activation on the same replica.
type slowActive struct {
	Store
	read, resume chan struct{}
}

func (s *slowActive) ActiveModel(ctx context.Context) (*lift.ModelVersion, error) {
	mv, err := s.Store.ActiveModel(ctx)
	s.read <- struct{}{}
	<-s.resume
	return mv, err
}

// TestRefreshDoesNotUndoANewerLoad: a poll that read the registry before
// an activation here finishes after it; it must not put back the version
// it read (a replica served the older model until its next poll).
func TestRefreshDoesNotUndoANewerLoad(t *testing.T) {
	ctx := context.Background()
	db := MustDemoDB(t, 400, 3)
	serving := &Serving{Bands: lift.DefaultBands}
	job := &Job{Store: db, Serving: serving}
	var versions []int64
	for range 2 {
		opts := DefaultOptions()
		opts.Params.Rounds = 10 + len(versions)
		sum, err := job.Run(ctx, opts)
		if err != nil || sum.ModelVersion == nil {
			t.Fatalf("training: %+v, %v", sum, err)
		}
		versions = append(versions, *sum.ModelVersion)
	}
	if _, err := job.Activate(ctx, versions[0]); err != nil {
		t.Fatal(err)
	}
	fresh := &Serving{Bands: lift.DefaultBands}
	slow := &slowActive{Store: db, read: make(chan struct{}), resume: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := fresh.Refresh(ctx, slow)
		done <- err
	}()
	<-slow.read // the poll has read versions[0] as active
	other := &Job{Store: db, Serving: fresh}
	if _, err := other.Activate(ctx, versions[1]); err != nil {
		t.Fatal(err)
	}
	close(slow.resume)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fresh.Version(); got != versions[1] {
		t.Errorf("after the activation of v%d and a poll that read v%d: serving v%d", versions[1], versions[0], got)
	}
	// The next poll agrees with the registry.
	if _, err := fresh.Refresh(ctx, db); err != nil || fresh.Version() != versions[1] {
		t.Errorf("next poll: v%d, %v", fresh.Version(), err)
	}
}
