package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"lift"
)

// Activator activates a registered model version (evaluating it first if
// needed) and serves it.
type Activator interface {
	Activate(ctx context.Context, version int64) (*lift.ModelVersion, error)
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.Models.ListModels(r.Context())
	if err != nil {
		return err
	}
	for _, m := range ms {
		m.Calibration = nil // residual lists are for serving, not listings
	}
	if ms == nil {
		ms = []*lift.ModelVersion{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"models": ms})
}

func versionParam(r *http.Request) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 {
		return 0, lift.Errorf(lift.Invalid, "version must be a positive integer, got %q", r.PathValue("version"))
	}
	return v, nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	m, err := s.Models.GetModel(r.Context(), v)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (s *Server) activateModel(w http.ResponseWriter, r *http.Request) error {
	v, err := versionParam(r)
	if err != nil {
		return err
	}
	// It takes no body: any field in one is unknown, and refused.
	if _, err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	if s.Activator == nil {
		return lift.Errorf(lift.Unavailable, "model activation is not configured on this server")
	}
	m, err := s.Activator.Activate(r.Context(), v)
	if err != nil {
		return err
	}
	m.Calibration = nil
	return writeJSON(w, http.StatusOK, m)
}
