package httpapi

import (
	"net/http"
	"sync/atomic"

	"lift"
)

// Phased is the server's handler across its start: until Ready is called
// it answers as serveStarting does, then as the handler Ready was given.
// The listener is served from the start, so that a liveness probe is
// answered while the database opens and migrates (which on a large
// database takes a while) instead of waiting in the backlog until the
// probe gives up and the server is killed.
type Phased struct {
	ready atomic.Pointer[http.Handler]
}

// Ready makes h answer every request from now on.
func (p *Phased) Ready(h http.Handler) { p.ready.Store(&h) }

// ServeHTTP implements http.Handler.
func (p *Phased) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := p.ready.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	serveStarting(w, r)
}

// serveStarting answers a request that comes before the server is ready:
// GET /healthz is 200 (the process is up), anything else a 503 saying the
// server is starting, with no data and so no token needed.
func serveStarting(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "starting"})
		return
	}
	w.Header().Set("Retry-After", "1")
	writeJSON(w, statusOf[lift.Unavailable], ErrorBody{
		Detail: "the server is starting (opening and migrating its database); try again shortly",
		Code:   lift.Unavailable.String(),
	})
}
