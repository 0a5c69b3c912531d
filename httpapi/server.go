// Package httpapi is Lift's HTTP JSON API: routes, middleware, and the one
// table that maps error kinds to status codes.
package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"lift"
	"lift/internal/strictjson"
)

// MaxBodyBytes bounds every request body; larger bodies are 413.
const MaxBodyBytes = 1 << 20

// Server serves the API. Set the fields, then use Handler.
type Server struct {
	Clips       lift.ClipStore
	Predictions lift.PredictionStore
	// Predictor answers /predict/ctr; it may swap models internally.
	Predictor lift.Predictor
	// Trainer runs /train/ctr-model; nil means none is configured.
	Trainer lift.Trainer
	// Models is the registry; Activator switches the served version.
	Models    lift.ModelStore
	Activator Activator
	// Experiments runs A/B/n tests; nil disables the endpoints.
	Experiments Experiments
	// Ready reports whether dependencies are usable (for /readyz).
	Ready func(ctx context.Context) error
	// Token, when non-empty, is required as a bearer token on every
	// endpoint but the probes.
	Token string
	// LocalNamesOnly refuses (403) a request addressed to a host name
	// other than localhost: set it when the server has no token and so
	// listens on loopback, where a page from a name an attacker points at
	// 127.0.0.1 (DNS rebinding) is, to the browser, of the server's own
	// origin and could read and write everything. An IP address is
	// accepted: no DNS stands behind it.
	LocalNamesOnly bool
	// Metrics, when set, records request latencies and domain counters
	// and is served at GET /metrics.
	Metrics *Metrics
	// RequestTimeout bounds how long a request's handler may take, so
	// that a database that stops answering fails requests (503) instead
	// of holding them; 0 means DefaultRequestTimeout. Training on demand
	// has TrainTimeout instead.
	RequestTimeout time.Duration
	// TrainTimeout bounds a training run started over HTTP; 0 means
	// DefaultTrainTimeout. The run goes on if its client goes away: it
	// holds the training lock, and its model is worth having.
	TrainTimeout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// The default time limits of a request and of a training run on demand.
const (
	DefaultRequestTimeout = 30 * time.Second
	DefaultTrainTimeout   = 5 * time.Minute
)

// readyTimeout bounds /readyz's check of the database: a probe must
// answer promptly, and a database that takes longer is not ready.
const readyTimeout = 2 * time.Second

// Handler returns the routed, authenticated handler.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = DefaultRequestTimeout
	}
	if s.TrainTimeout <= 0 {
		s.TrainTimeout = DefaultTrainTimeout
	}
	if s.Metrics != nil {
		s.Metrics.follow(s.Predictor)
	}
	mux := http.NewServeMux()
	// probe knows every route, to tell a wrong method from an unknown path.
	probe := http.NewServeMux()
	for _, r := range s.routes() {
		timeout := s.RequestTimeout
		if untimed[r.pattern] {
			timeout = 0
		}
		mux.Handle(r.pattern, s.wrap(r.public, timeout, r.handle))
		probe.Handle(r.pattern, http.NotFoundHandler())
	}
	// Not public: with a token set, a client without it learns nothing of
	// which routes and methods exist (401 before 404 or 405).
	mux.Handle("/", s.wrap(false, s.RequestTimeout, func(w http.ResponseWriter, r *http.Request) error {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			try := r.Clone(r.Context())
			try.Method = m
			if _, pattern := probe.Handler(try); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			return writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{
				Detail: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")),
				Code:   "method_not_allowed",
			})
		}
		return lift.Errorf(lift.NotFound, "no route for %s %s", r.Method, r.URL.Path)
	}))
	return mux
}

type route struct {
	pattern string
	public  bool // no token needed
	handle  func(http.ResponseWriter, *http.Request) error
}

func (s *Server) routes() []route {
	rs := []route{
		{"GET /healthz", true, s.healthz},
		{"GET /readyz", true, s.readyz},
		{"GET /openapi.json", false, s.openAPI},
		{"GET /docs", false, s.docs},
		{"PUT /clips/{id}", false, s.putClip},
		{"GET /clips/{id}", false, s.getClip},
		{"GET /clips", false, s.listClips},
		{"POST /clips/{id}/outcomes", false, s.postOutcome},
		{"POST /predict/ctr", false, s.predictCTR},
		{"POST /train/ctr-model", false, s.trainCTR},
		{"GET /models", false, s.listModels},
		{"GET /models/{version}", false, s.getModel},
		{"POST /models/{version}/activate", false, s.activateModel},
		// The dashboard: a public shell, and the read endpoints it uses.
		{"GET /{$}", true, s.dashboardIndex},
		{"GET /ui/{file}", true, s.dashboardAsset},
		{"GET /predictions/summary", false, s.predictionSummary},
		{"GET /models/{version}/importance", false, s.modelImportance},
		{"GET /clips/{id}/explain", false, s.clipExplain},
		{"GET /clips/{id}/outcomes", false, s.clipOutcomes},
		{"GET /clips/{id}/predictions", false, s.clipPredictions},
	}
	if s.Metrics != nil {
		rs = append(rs, route{"GET /metrics", true, s.metrics})
	}
	if s.Experiments != nil {
		rs = append(rs, []route{
			{"POST /experiments", false, s.createExperiment},
			{"GET /experiments/{id}", false, s.getExperiment},
			{"POST /experiments/{id}/decide", false, s.decide},
			{"POST /experiments/{id}/rewards", false, s.reward},
			{"GET /experiments/{id}/stats", false, s.experimentStats},
			{"GET /experiments/{id}/log.dsjson", false, s.experimentLog},
			{"POST /experiments/{id}/variants", false, s.addVariant},
			{"DELETE /experiments/{id}/variants/{variant}", false, s.retireVariant},
			{"GET /experiments", false, s.listExperiments},
			{"GET /experiments/{id}/timeline", false, s.experimentTimeline},
		}...)
	}
	return rs
}

// untimed are the routes RequestTimeout does not bound: the log export
// streams for as long as the log is (the server's write timeout still
// applies), and training has TrainTimeout.
var untimed = map[string]bool{
	"GET /experiments/{id}/log.dsjson": true,
	"POST /train/ctr-model":            true,
}

// wrap adds metrics, authentication, panic recovery, the request's time
// limit (none when timeout is 0) and error rendering.
func (s *Server) wrap(public bool, timeout time.Duration, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Metrics != nil {
			// Deferred before the recover below, so it runs after it and
			// sees the 500 a panic turns into.
			rec, start := &statusRecorder{ResponseWriter: w}, time.Now()
			defer func() { s.Metrics.observeRequest(r.Pattern, rec.code(), time.Since(start)) }()
			w = rec
		}
		defer func() {
			if p := recover(); p != nil {
				s.Logger.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(p))
				s.writeError(w, r, lift.Errorf(lift.Internal, "panic: %v", p))
			}
		}()
		// The token first: without it, a 401 whatever else is wrong, as
		// the contract says.
		if !public && s.Token != "" && !s.authorized(r) {
			s.writeError(w, r, lift.Errorf(lift.Unauthorized, "missing or wrong bearer token"))
			return
		}
		if err := s.checkSource(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := validPathIDs(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if timeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// validPathIDs refuses an id in the path that no write could have stored
// (control characters, invalid UTF-8, too long): a 400 saying why, on
// every store alike, rather than a 404 from one database and a refusal
// to store the text from another.
func validPathIDs(r *http.Request) error {
	for _, name := range []string{"id", "variant"} {
		v := r.PathValue(name)
		if v == "" {
			continue
		}
		field := name
		if strings.Contains(r.Pattern, " /clips/") {
			field = "clip_id"
		}
		if err := lift.ValidateID(field, v); err != nil {
			return err
		}
	}
	return nil
}

// crossOrigin tells a browser's cross-site write by the headers browsers
// add (Sec-Fetch-Site, else Origin against Host); clients that are not
// browsers send neither, and pass.
var crossOrigin = http.NewCrossOriginProtection()

// checkSource refuses (Forbidden) what a web page in a user's browser can
// be made to send to a server it can reach:
//   - a write from a page of another site (cross-site request forgery).
//     A form or fetch() may POST to http://127.0.0.1:8080 without asking
//     first, and a server without a token would act on it: record
//     outcomes, train, activate a model. With a token it would be refused
//     anyway (the page cannot know it); the check costs two header
//     lookups, so it is made always.
//   - with LocalNamesOnly, a request addressed to another name.
func (s *Server) checkSource(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return lift.Errorf(lift.Forbidden, "a cross-origin request from a browser may not change anything here (%v)", err)
	}
	if s.LocalNamesOnly && !localName(r.Host) {
		return lift.Errorf(lift.Forbidden, "host %q is not localhost or an IP address: a server without an API token answers only those (set a token to serve other names)", r.Host)
	}
	return nil
}

// localName reports whether a Host header names this machine without
// DNS: localhost, a name under .localhost (RFC 6761), an IP address, or
// nothing (HTTP/1.0).
func localName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil || host == "" {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// authorized checks the request's bearer token. The scheme's name is
// case-insensitive (RFC 9110, 11.1): "bearer" is as good as "Bearer".
func (s *Server) authorized(r *http.Request) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) == 1
}

// statusOf is the one table from error kind to HTTP status.
var statusOf = map[lift.Kind]int{
	lift.Invalid:      http.StatusBadRequest,
	lift.NotFound:     http.StatusNotFound,
	lift.Conflict:     http.StatusConflict,
	lift.Unauthorized: http.StatusUnauthorized,
	lift.TooLarge:     http.StatusRequestEntityTooLarge,
	lift.Unavailable:  http.StatusServiceUnavailable,
	lift.Timeout:      http.StatusRequestTimeout,
	lift.Internal:     http.StatusInternalServerError,
	lift.Forbidden:    http.StatusForbidden,
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// statusClientGone is recorded for a request whose client went away
// before its answer (nginx's 499): nobody reads it, and it is not the
// server's error.
const statusClientGone = 499

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := lift.KindOf(err)
	body := ErrorBody{Detail: lift.Message(err), Code: kind.String()}
	// An error that is the request's context ending (and only that: a
	// real failure after the client left is still logged as one).
	if kind == lift.Internal && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		switch ctxErr := r.Context().Err(); {
		case errors.Is(ctxErr, context.Canceled):
			s.Logger.Info("client went away before the answer", "method", r.Method, "path", r.URL.Path)
			writeJSON(w, statusClientGone, ErrorBody{Detail: "client went away", Code: "client_gone"})
			return
		case errors.Is(ctxErr, context.DeadlineExceeded):
			s.Logger.Warn("request timed out", "method", r.Method, "path", r.URL.Path, "err", err)
			kind = lift.Unavailable
			body = ErrorBody{Detail: "the request did not finish in time (is the database answering?)", Code: kind.String()}
		}
	}
	if kind == lift.Internal {
		s.Logger.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Detail = "internal error"
	}
	if down, ok := errors.AsType[*lift.DatabaseDown](err); ok && kind == lift.Unavailable {
		// The driver's text names the database's address and user: the
		// log gets it, the client the fact.
		s.Logger.Warn("the database is unavailable", "method", r.Method, "path", r.URL.Path, "err", down.Cause)
		body.Detail = "the database is unavailable; try again later"
	}
	if kind == lift.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lift"`)
	}
	writeJSON(w, statusOf[kind], body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeJSONBytes(w, status, b)
}

// writeJSONBytes writes b, one JSON value already encoded, as the answer.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err := w.Write(append(b, '\n'))
	return err
}

// decode reads one JSON value from the body into v: at most MaxBodyBytes,
// no unknown fields, nothing after it. An empty body is allowed only when
// allowEmpty, and then leaves v untouched and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) (bool, error) {
	if allowEmpty && r.Body == http.NoBody {
		return false, nil // the server's body for Content-Length: 0
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return false, lift.Errorf(lift.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return false, lift.Errorf(lift.Timeout, "the request body did not arrive in time")
		}
		return false, lift.Errorf(lift.Invalid, "reading request body: %v", err)
	}
	// JSON text is UTF-8 (RFC 8259); the decoder would turn invalid bytes
	// into U+FFFD, storing an id or a key the client never sent.
	if !utf8.Valid(data) {
		return false, lift.Errorf(lift.Invalid, "request body is not valid UTF-8")
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if allowEmpty {
			return false, nil
		}
		return false, lift.Errorf(lift.Invalid, "request body must be a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, lift.Errorf(lift.Invalid, "%s", jsonErrorText(err, data))
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, lift.Errorf(lift.Invalid, "malformed JSON body: unexpected data after the JSON object")
	}
	// What the decoder took silently: a key given twice, a field named
	// with other capitals.
	if err := strictjson.Check(data, reflect.TypeOf(v)); err != nil {
		return false, lift.Errorf(lift.Invalid, "malformed JSON body: %v", err)
	}
	return true, nil
}

// jsonErrorText makes the decoder's errors for the body data name the
// field.
func jsonErrorText(err error, data []byte) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") && jsonKind(te.Type) == "a number" {
		// A number too large for a float64 (1e999): the decoder reports
		// it as a number that should be a number, against the field or
		// the object that holds it, or none inside a map of any: find it.
		where := "in the body"
		if path, lit := hugeNumber(data); path != "" {
			where = fmt.Sprintf("in field %q (%s)", path, lit)
		} else if te.Field != "" {
			where = fmt.Sprintf("in field %q", te.Field)
		}
		return fmt.Sprintf("a number %s is out of range: numbers must be finite 64-bit floats", where)
	}
	if te != nil && te.Field != "" {
		return fmt.Sprintf("field %q must be %s, got JSON %s", te.Field, jsonKind(te.Type), te.Value)
	}
	if te != nil {
		// The body itself is of the wrong kind: name it as JSON, not as
		// the Go type it was read into.
		return fmt.Sprintf("the body must be %s, got JSON %s", jsonKind(te.Type), te.Value)
	}
	return "malformed JSON body: " + strings.TrimPrefix(err.Error(), "json: ")
}

// hugeNumber returns the path (a.b[2].c) and text of the first number in
// data that a float64 cannot hold, or "" for none. data is JSON the
// decoder has read (so nested less than its limit).
func hugeNumber(data []byte) (path, text string) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(at string) bool
	walk = func(at string) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case json.Number:
			if _, err := t.Float64(); err != nil {
				path, text = at, t.String()
				return true
			}
		case json.Delim:
			for i := 0; t != '}' && t != ']' && dec.More(); i++ {
				next := fmt.Sprintf("%s[%d]", at, i)
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return false
					}
					next = k.(string)
					if at != "" {
						next = at + "." + next
					}
				}
				if walk(next) {
					return true
				}
			}
			if t == '{' || t == '[' {
				dec.Token() // the closing delimiter
			}
		}
		return false
	}
	walk("")
	return path, text
}

// jsonKind names what JSON a Go type takes, for messages: "an object",
// not "map[string]*json.RawMessage".
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string" // time.Time and the like
	}
	if t == reflect.TypeFor[count]() {
		// 1e20 is whole, but no count can hold it.
		return "a whole number below 2^63"
	}
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			// The probe is public: the database's address and user go to
			// the log, not to the caller.
			s.Logger.Warn("not ready", "err", err)
			return lift.Errorf(lift.Unavailable, "not ready: the database does not answer")
		}
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
