package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"lift"
)

// TestWrongMethod: a path the server routes, asked with a method it does
// not take, is a 405 naming the methods it does take; GET and HEAD too,
// which the dashboard's page at "/" must not swallow. An unknown path is
// a 404. Without the server's token both are a 401: a client that has
// not authenticated learns nothing of which routes exist.
func TestWrongMethod(t *testing.T) {
	s := newTestServer(t, 1)
	h := s.Handler()
	for _, c := range []struct {
		method, path string
		want         int
		allow        string
	}{
		{"GET", "/predict/ctr", 405, "POST"},
		{"HEAD", "/predict/ctr", 405, "POST"},
		{"GET", "/train/ctr-model", 405, "POST"},
		{"GET", "/models/1/activate", 405, "POST"},
		{"GET", "/experiments/x/decide", 405, "POST"},
		{"DELETE", "/clips/x", 405, "GET, PUT"},
		{"POST", "/healthz", 405, "GET"},
		{"POST", "/", 405, "GET"},
		{"GET", "/no/such/page", 404, ""},
		{"PUT", "/no/such/page", 404, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != http.StatusUnauthorized || w.Header().Get("Allow") != "" {
			t.Errorf("%s %s without the token = %d (Allow %q), want 401", c.method, c.path, w.Code, w.Header().Get("Allow"))
		}
		w = httptest.NewRecorder()
		req := httptest.NewRequest(c.method, c.path, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		h.ServeHTTP(w, req)
		if w.Code != c.want || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s = %d (Allow %q), want %d (Allow %q)", c.method, c.path, w.Code, w.Header().Get("Allow"), c.want, c.allow)
			continue
		}
		if c.method == "HEAD" {
			continue
		}
		var body ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Detail == "" {
			t.Errorf("%s %s: body %q is not an error body", c.method, c.path, w.Body.String())
		}
		if want := map[int]string{405: "method_not_allowed", 404: "not_found"}[c.want]; body.Code != want {
			t.Errorf("%s %s: code %q, want %q", c.method, c.path, body.Code, want)
		}
	}
}

// TestBearerScheme: the scheme's name is case-insensitive; the token is
// not, and nothing but the token passes.
func TestBearerScheme(t *testing.T) {
	h := newTestServer(t, 1).Handler()
	for _, c := range []struct {
		auth string
		want int
	}{
		{"Bearer secret", http.StatusOK},
		{"bearer secret", http.StatusOK},
		{"BEARER secret", http.StatusOK},
		{"Bearer Secret", http.StatusUnauthorized},
		{"Bearer  secret", http.StatusUnauthorized},
		{"Basic secret", http.StatusUnauthorized},
		{"Bearersecret", http.StatusUnauthorized},
		{"secret", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", "/models", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, w.Code, c.want)
		}
	}
}

// TestRequestTimeLimits: a handler stuck on a dependency that stops
// answering fails with a 503 once RequestTimeout passes, not an internal
// error; a client that goes away is a 499 in the metrics and no error in
// the log; /readyz gives up on a silent database after readyTimeout and
// does not tell the public what the database said.
func TestRequestTimeLimits(t *testing.T) {
	var log bytes.Buffer
	s := &Server{RequestTimeout: 50 * time.Millisecond, Metrics: NewMetrics(),
		Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Ready: func(ctx context.Context) error {
			<-ctx.Done()
			return fmt.Errorf("failed to connect to user=admin host=10.1.2.3: %w", ctx.Err())
		}}
	h := s.Handler()
	stuck := s.wrap(false, s.RequestTimeout, func(w http.ResponseWriter, r *http.Request) error {
		<-r.Context().Done()
		return fmt.Errorf("query: %w", r.Context().Err())
	})

	w := httptest.NewRecorder()
	stuck.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	var body ErrorBody
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != http.StatusServiceUnavailable || body.Code != "unavailable" || strings.Contains(body.Detail, "query") {
		t.Errorf("stuck handler: %d %+v, want 503 unavailable without the error's text", w.Code, body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/x", nil).WithContext(ctx)
	req.Pattern = "GET /x"
	w = httptest.NewRecorder()
	stuck.ServeHTTP(w, req)
	if w.Code != statusClientGone {
		t.Errorf("client gone: %d, want %d", w.Code, statusClientGone)
	}
	if strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("a client going away or a timeout is logged as an error:\n%s", log.String())
	}
	if got := gather(t, s.Metrics, "lift_http_request_duration_seconds"); !strings.Contains(got.String(), `value:"499"`) {
		t.Errorf("the metrics do not count the 499: %v", got)
	}

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "10.1.2.3") || strings.Contains(w.Body.String(), "admin") {
		t.Errorf("/readyz on a silent database: %d %s, want 503 without the database's details", w.Code, w.Body)
	}
	if !strings.Contains(log.String(), "10.1.2.3") {
		t.Errorf("the log does not say why the server is not ready:\n%s", log.String())
	}
}

// TestSlowBodyIsATimeout: a body that does not arrive before the server's
// read timeout is a 408, with no socket addresses in the answer.
func TestSlowBodyIsATimeout(t *testing.T) {
	srv := httptest.NewUnstartedServer(newTestServer(t, 1).Handler())
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /clips/demo-0001/outcomes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), `"code":"timeout"`) || strings.Contains(string(b), "127.0.0.1") {
		t.Errorf("slow body: %d %s, want 408 timeout without addresses", resp.StatusCode, b)
	}
}

// blockingTrainer reports whether its context was still alive after its
// client went away: it waits for proceed, closed once the client left.
type blockingTrainer struct {
	started, proceed chan struct{}
	alive            chan error
}

func (b *blockingTrainer) TrainCTR(ctx context.Context, _ map[string]any) (*lift.TrainSummary, error) {
	close(b.started)
	<-b.proceed
	b.alive <- ctx.Err()
	return &lift.TrainSummary{Message: "trained"}, nil
}

// TestTrainingOutlivesItsClient: a training run goes on when the client
// that asked for it goes away (it holds the training lock; a proxy's idle
// timeout must not waste it).
func TestTrainingOutlivesItsClient(t *testing.T) {
	tr := &blockingTrainer{started: make(chan struct{}), proceed: make(chan struct{}), alive: make(chan error, 1)}
	s := &Server{Trainer: tr, RequestTimeout: 10 * time.Millisecond}
	h := s.Handler()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/train/ctr-model", nil).WithContext(ctx))
		close(done)
	}()
	<-tr.started
	cancel() // the client goes away mid-run
	close(tr.proceed)
	if err := <-tr.alive; err != nil {
		t.Errorf("the training's context ended with its client's: %v", err)
	}
	<-done
}

// failingAfterClientLeft fails for a reason of its own after its client
// went away.
type failingAfterClientLeft struct{ cancel context.CancelFunc }

func (f failingAfterClientLeft) TrainCTR(context.Context, map[string]any) (*lift.TrainSummary, error) {
	f.cancel()
	return nil, fmt.Errorf("registering the model: disk I/O error")
}

// TestRealErrorAfterClientLeft: a failure that is not the context's is
// logged as the error it is, even when the client has gone by then; a
// training run that passes its own limit is a 503, not an internal error.
func TestRealErrorAfterClientLeft(t *testing.T) {
	var log bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Trainer: failingAfterClientLeft{cancel}, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/train/ctr-model", nil).WithContext(ctx))
	if w.Code != http.StatusInternalServerError || !strings.Contains(log.String(), "disk I/O error") {
		t.Errorf("a real failure after the client left: %d, log %q; want 500 and the error logged", w.Code, log.String())
	}

	s = &Server{Trainer: trainerFunc(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }), TrainTimeout: time.Millisecond}
	w = httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/train/ctr-model", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "did not finish within") {
		t.Errorf("a run past its limit: %d %s, want 503", w.Code, w.Body)
	}
}

// trainerFunc is a Trainer made of a function.
type trainerFunc func(ctx context.Context) error

func (f trainerFunc) TrainCTR(ctx context.Context, _ map[string]any) (*lift.TrainSummary, error) {
	return nil, f(ctx)
}

// TestQueryValue holds queryValue to what URL.Query answers.
func TestQueryValue(t *testing.T) {
	for _, raw := range []string{
		"", "clip_id=a", "clip_id=a&clip_id=b", "x=1&clip_id=demo-0001", "clip_id", "clip_id=",
		"clip%5Fid=esc", "clip_id=a%20b+c", "clip_id=%zz&clip_id=ok", "clip_id=a;b&clip_id=c", "a;b=1&clip_id=d",
		"&&clip_id=e&", "clip_id%=x&clip_id=y", "CLIP_ID=upper", "clip_id=%E2%9C%93",
	} {
		q, _ := url.ParseQuery(raw)
		want, wantOK := q["clip_id"]
		got, ok := queryValue(raw, "clip_id")
		if ok != wantOK || ok && got != want[0] {
			t.Errorf("queryValue(%q) = %q, %v; URL.Query has %q", raw, got, ok, want)
		}
	}
}

// TestBodyMustBeUTF8: JSON text is UTF-8. A body with invalid bytes is
// refused, and nothing is stored: decoded, the bytes would have become
// U+FFFD, an id or a key the client never sent.
func TestBodyMustBeUTF8(t *testing.T) {
	h := newTestServer(t, 1).Handler()
	for _, c := range []struct{ method, target, body string }{
		{"PUT", "/clips/c1", "{\"duration\":3,\"emotion_data\":{\"k\xff\":1}}"},
		{"POST", "/experiments", "{\"id\":\"bad\xff\",\"variants\":[{\"id\":\"a\"},{\"id\":\"b\"}]}"},
		{"POST", "/predict/ctr", "{\"clip_id\":\"demo-0001\xfe\"}"},
	} {
		code, body := call(t, h, c.method, c.target, c.body)
		if code != 400 || !strings.Contains(string(body), "not valid UTF-8") {
			t.Errorf("%s %s = %d %s, want 400 naming UTF-8", c.method, c.target, code, body)
		}
	}
	if code, _ := call(t, h, "GET", "/clips/c1", ""); code != 404 {
		t.Errorf("GET /clips/c1 = %d: the refused PUT stored the clip", code)
	}
	if code, body := call(t, h, "GET", "/experiments", ""); code != 200 || strings.Contains(string(body), "bad") {
		t.Errorf("GET /experiments = %d %s: the refused create stored the experiment", code, body)
	}
}

// downClips is a clip store whose database is out of reach, as the
// PostgreSQL store reports it (the driver's text names the server's
// address and user).
type downClips struct{ lift.ClipStore }

func (downClips) GetClip(context.Context, string) (*lift.Clip, error) {
	return nil, &lift.Error{Kind: lift.Unavailable, Err: &lift.DatabaseDown{
		Cause: errors.New("failed to connect to `user=lift database=prod`: 10.0.0.7:5432: connection refused")}}
}

// TestDatabaseDownIsNotExplained: a client gets a 503 that says the
// database is unavailable; the driver's text (address, user, database) is
// for the log.
func TestDatabaseDownIsNotExplained(t *testing.T) {
	s := newTestServer(t, 1)
	var log bytes.Buffer
	s.Logger = slog.New(slog.NewTextHandler(&log, nil))
	s.Clips = downClips{s.Clips}
	code, body := call(t, s.Handler(), "GET", "/clips/demo-0001", "")
	if code != 503 || strings.Contains(string(body), "10.0.0.7") || !strings.Contains(string(body), "the database is unavailable") {
		t.Errorf("GET /clips with the database down = %d %s", code, body)
	}
	if !strings.Contains(log.String(), "10.0.0.7") {
		t.Errorf("the log lacks the cause: %q", log.String())
	}
}

// TestBrowserRequestsRefused: a write from a page of another site is a
// 403 and changes nothing, whatever the token; requests from clients that
// are not browsers, and same-origin ones, pass. With LocalNamesOnly a
// request addressed to any name but localhost (a page whose name an
// attacker pointed at 127.0.0.1) is a 403 too, reads included.
func TestBrowserRequestsRefused(t *testing.T) {
	s := newTestServer(t, 1)
	h := s.Handler()
	send := func(method, target, body, host string, headers ...string) (int, ErrorBody) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Host = host
		if s.Token != "" {
			req.Header.Set("Authorization", "Bearer "+s.Token)
		}
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var e ErrorBody
		json.Unmarshal(w.Body.Bytes(), &e)
		return w.Code, e
	}
	outcomes := func() string {
		code, body := call(t, h, "GET", "/clips/demo-0001", "")
		if code != 200 {
			t.Fatalf("GET clip = %d %s", code, body)
		}
		return string(body)
	}
	before := outcomes()
	for _, token := range []string{"secret", ""} {
		s.Token = token
		for _, c := range []struct {
			name    string
			headers []string
		}{
			{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"}},
			{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site"}},
			{"Origin of another host", []string{"Origin", "http://evil.example"}},
		} {
			code, e := send("POST", "/clips/demo-0001/outcomes", `{"impressions":100,"clicks":100}`, "127.0.0.1:8080", c.headers...)
			if code != http.StatusForbidden || e.Code != "forbidden" || e.Detail == "" {
				t.Errorf("token %q, %s: POST outcomes = %d %+v, want 403 forbidden", token, c.name, code, e)
			}
			if code, _ := send("POST", "/models/1/activate", "", "127.0.0.1:8080", c.headers...); code != http.StatusForbidden {
				t.Errorf("token %q, %s: POST activate = %d, want 403", token, c.name, code)
			}
		}
		// Reads from another origin are the browser's to hide (no CORS
		// headers are sent); they are not refused.
		if code, _ := send("GET", "/models", "", "127.0.0.1:8080", "Sec-Fetch-Site", "cross-site"); code != http.StatusOK {
			t.Errorf("token %q: cross-site GET = %d, want 200", token, code)
		}
	}
	if after := outcomes(); after != before {
		t.Fatalf("refused writes changed the clip:\n%s\n%s", before, after)
	}
	// Same-origin pages (the dashboard) and clients that are not browsers.
	for i, headers := range [][]string{
		{"Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"},
		{"Origin", "http://127.0.0.1:8080"},
		{},
	} {
		if code, e := send("POST", "/clips/demo-0001/outcomes", `{"impressions":10,"clicks":1}`, "127.0.0.1:8080", headers...); code != http.StatusCreated {
			t.Errorf("request %d %v: %d %+v, want 201", i, headers, code, e)
		}
	}

	s.LocalNamesOnly = true
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8080", true}, {"[::1]:8080", true}, {"localhost:8080", true}, {"LOCALHOST.", true},
		{"app.localhost:8080", true}, {"10.1.2.3", true}, {"", true},
		{"evil.example:8080", false}, {"localhost.evil.example", false}, {"127.0.0.1.nip.io:8080", false},
	} {
		for _, m := range []string{"GET", "POST"} {
			target, want := "/models", http.StatusOK
			if m == "POST" {
				target, want = "/clips/demo-0001/outcomes", http.StatusCreated
			}
			if !c.ok {
				want = http.StatusForbidden
			}
			if code, e := send(m, target, `{"impressions":10,"clicks":1}`, c.host); code != want {
				t.Errorf("LocalNamesOnly, Host %q: %s %s = %d %+v, want %d", c.host, m, target, code, e, want)
			}
		}
	}
	// The probes too: a rebinding page could read them.
	if code, _ := send("GET", "/healthz", "", "evil.example"); code != http.StatusForbidden {
		t.Errorf("LocalNamesOnly: GET /healthz for evil.example = %d, want 403", code)
	}
}

// TestHugeNumber: the first number a float64 cannot hold is found by its
// path, however deep, for the message of a body read into a map of any.
func TestHugeNumber(t *testing.T) {
	for data, want := range map[string]string{
		`{"a":{"b":[1,2,1e400]}}`:        `a.b[2] 1e400`,
		`[1e999]`:                        `[0] 1e999`,
		`{"x":1,"y":{"z":-2e308},"w":3}`: `y.z -2e308`,
		`{"x":1,"y":[{"k":"1e999"}]}`:    ` `,
		`{"x":1.5e308}`:                  ` `,
	} {
		path, text := hugeNumber([]byte(data))
		if got := path + " " + text; got != want {
			t.Errorf("hugeNumber(%s) = %q, want %q", data, got, want)
		}
	}
}

// totalsDown is a real clip store whose reads of a clip fail, as when the
// database goes away between an outcome's commit and the answer.
type totalsDown struct{ lift.ClipStore }

func (totalsDown) GetClip(context.Context, string) (*lift.Clip, error) {
	return nil, lift.Errorf(lift.Unavailable, "the database went away")
}

// clipGrowth reads clip id's counts now and returns a check that they
// have grown by exactly impressions and clicks since.
func clipGrowth(t *testing.T, clips lift.ClipStore, id string) func(impressions, clicks int64) {
	t.Helper()
	before, err := clips.GetClip(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return func(impressions, clicks int64) {
		t.Helper()
		after, err := clips.GetClip(context.Background(), id)
		if err != nil || after.Impressions != before.Impressions+impressions || after.Clicks != before.Clicks+clicks {
			t.Errorf("clip %s: %d/%d -> %v (%v), want +%d/+%d", id, before.Impressions, before.Clicks, after, err, impressions, clicks)
		}
	}
}

// TestOutcomeStoredIsAnswered201: an outcome committed is answered 201
// even when reading the clip's totals back fails (they are null then): an
// error would make the client send it again, and it would count twice.
func TestOutcomeStoredIsAnswered201(t *testing.T) {
	s := newTestServer(t, 1)
	store := s.Clips
	grew := clipGrowth(t, store, "demo-0001")
	s.Clips = totalsDown{store}
	code, body := call(t, s.Handler(), "POST", "/clips/demo-0001/outcomes", `{"impressions":100,"clicks":3}`)
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || code != http.StatusCreated || out["clip_impressions"] != nil || out["impressions"] != 100.0 {
		t.Fatalf("= %d %s, want 201 with the outcome and null totals", code, body)
	}
	grew(100, 3)
}

// TestOutcomeID: an outcome sent with an outcome_id is counted once: 201,
// then 200 with the same outcome for a retry, 409 for other counts, and
// 400 for an empty id.
func TestOutcomeID(t *testing.T) {
	s := newTestServer(t, 1)
	h := s.Handler()
	grew := clipGrowth(t, s.Clips, "demo-0001")
	var first, again map[string]any
	code, body := call(t, h, "POST", "/clips/demo-0001/outcomes", `{"outcome_id":"batch-7","impressions":100,"clicks":3}`)
	if json.Unmarshal(body, &first); code != 201 || first["outcome_id"] != "batch-7" {
		t.Fatalf("first = %d %s", code, body)
	}
	code, body = call(t, h, "POST", "/clips/demo-0001/outcomes", `{"outcome_id":"batch-7","impressions":100,"clicks":3}`)
	if json.Unmarshal(body, &again); code != 200 || again["id"] != first["id"] || again["clip_impressions"] != first["clip_impressions"] {
		t.Fatalf("retry = %d %s, want 200 with the first outcome (%v)", code, body, first)
	}
	for body, want := range map[string]int{
		`{"outcome_id":"batch-7","impressions":100,"clicks":4}`: 409,
		`{"outcome_id":"","impressions":100,"clicks":4}`:        400,
	} {
		if code, answer := call(t, h, "POST", "/clips/demo-0001/outcomes", body); code != want {
			t.Errorf("%s = %d %s, want %d", body, code, answer, want)
		}
	}
	grew(100, 3)
}

// TestOutcomeCountMessages: a count's error says what is wrong with the
// number sent: written as a float it is read as one, an integer literal
// exactly, and a whole number past 2^63 is named as too large, not as a
// fraction.
func TestOutcomeCountMessages(t *testing.T) {
	s := newTestServer(t, 1)
	h := s.Handler()
	grew := clipGrowth(t, s.Clips, "demo-0001")
	for body, want := range map[string][]string{
		`{"impressions":1e20,"clicks":1}`:                {"impressions", "below 2^63", "1e20"},
		`{"impressions":1.5,"clicks":1}`:                 {"impressions", "whole number", "1.5"},
		`{"impressions":9223372036854775807,"clicks":1}`: {"at most 1000000000000"},
		`{"impressions":9007199254740993,"clicks":1}`:    {"9007199254740993"},
		`{"impressions":10,"clicks":"3"}`:                {"clicks", "string"},
	} {
		code, answer := call(t, h, "POST", "/clips/demo-0001/outcomes", body)
		for _, w := range want {
			if code != 400 || !strings.Contains(string(answer), w) {
				t.Errorf("%s = %d %s, want 400 saying %s", body, code, answer, w)
			}
		}
	}
	code, answer := call(t, h, "POST", "/clips/demo-0001/outcomes", `{"impressions":1e2,"clicks":3.0}`)
	if code != 201 {
		t.Errorf("counts written as floats = %d %s, want 201", code, answer)
	}
	grew(100, 3)
}
