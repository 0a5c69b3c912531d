package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is a `lift serve` running in-process on a loopback port.
type server struct {
	t      testing.TB
	URL    string
	stop   context.CancelFunc
	done   chan int
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// MustStartServer runs `lift serve --addr 127.0.0.1:0 args...` until the
// test ends (or Stop is called).
func MustStartServer(t testing.TB, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := NewMain()
	s := &server{t: t, stop: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	m.Stderr = s.stderr
	m.Getenv = func(k string) string { return env[k] }
	addrc := make(chan string, 1)
	m.OnListen = func(a string) { addrc <- a }
	go func() { s.done <- m.Exec(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)) }()
	select {
	case a := <-addrc:
		s.URL = "http://" + a
	case code := <-s.done:
		t.Fatalf("serve exited with %d before listening: %s", code, s.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start: %s", s.stderr.String())
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the server down gracefully and checks it exited 0.
func (s *server) Stop() {
	s.t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	if code := <-s.done; code != 0 {
		s.t.Errorf("serve exited with %d: %s", code, s.stderr.String())
	}
}

// Do sends a request with a JSON body (nil for none) and decodes the
// JSON answer into a map.
func (s *server) Do(method, path string, body any, header ...string) (int, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" { // the client sends req.Host
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 && json.Unmarshal(data, &out) != nil {
		s.t.Fatalf("%s %s: answer is not a JSON object: %q", method, path, data)
	}
	return resp.StatusCode, out
}

func clipBody(duration float64) map[string]any {
	return map[string]any{
		"psychology_score": map[string]any{"composite": 0.8},
		"hook_strength":    map[string]any{"strength": 0.6},
		"novelty_score":    map[string]any{"composite": 0.4},
		"emotion_data":     map[string]any{"priority_score": 0.5, "has_face": true},
		"duration":         duration,
		"composite_score":  0.7,
	}
}

func TestServeEndToEnd(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	s := MustStartServer(t, nil, "--db", db)

	if code, body := s.Do("GET", "/healthz", nil); code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz = %d %v", code, body)
	}
	if code, _ := s.Do("GET", "/readyz", nil); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	if code, body := s.Do("PUT", "/clips/c1", clipBody(22)); code != 201 || body["clip_id"] != "c1" {
		t.Fatalf("PUT new clip = %d %v", code, body)
	}
	if code, _ := s.Do("PUT", "/clips/c1", clipBody(23)); code != 200 {
		t.Fatalf("PUT existing clip = %d, want 200", code)
	}
	code, body := s.Do("POST", "/predict/ctr?clip_id=c1", nil)
	if code != 200 {
		t.Fatalf("predict = %d %v", code, body)
	}
	// Heuristic: 0.7*0.05 + 0.5*0.02 = 0.045, medium.
	if ctr := body["predicted_ctr"].(float64); ctr < 0.0449 || ctr > 0.0451 || body["predicted_band"] != "medium" {
		t.Errorf("heuristic prediction = %v", body)
	}
	for _, k := range []string{"prediction_id", "clip_id", "confidence", "ctr_interval", "model_version"} {
		if _, ok := body[k]; !ok {
			t.Errorf("prediction lacks %q: %v", k, body)
		}
	}
	if code, body := s.Do("POST", "/predict/ctr", map[string]any{"clip_id": "c1"}); code != 200 || body["clip_id"] != "c1" {
		t.Errorf("predict with body clip_id = %d %v", code, body)
	}
	if code, body := s.Do("POST", "/predict/ctr", map[string]any{"features": map[string]any{"duration": 15, "has_face": true}}); code != 200 || body["clip_id"] != nil {
		t.Errorf("predict with inline features = %d %v", code, body)
	}
	code, body = s.Do("POST", "/predict/ctr?clip_id=nope", nil)
	if code != 404 || body["detail"] != "Clip not found" || body["code"] != "not_found" {
		t.Errorf("predict unknown clip = %d %v", code, body)
	}
	if code, body := s.Do("POST", "/clips/c1/outcomes", map[string]any{"impressions": 1000, "clicks": 40}); code != 201 || body["actual_ctr"] != 0.04 {
		t.Errorf("outcome = %d %v", code, body)
	}
	code, got := s.Do("GET", "/clips/c1", nil)
	if code != 200 || got["actual_ctr"] != 0.04 {
		t.Errorf("clip after outcome = %d %v", code, got)
	}
	// What GET answered can be sent back as it is (the derived fields are
	// ignored); features other than the scores give are refused.
	if code, body := s.Do("PUT", "/clips/c1", got); code != 200 || body["impressions"] != 1000.0 {
		t.Errorf("PUT of what GET answered = %d %v", code, body)
	}
	// Edited: the features GET answered are now stale, and still fine.
	got["duration"] = 31.0
	if code, body := s.Do("PUT", "/clips/c1", got); code != 200 || body["duration"] != 31.0 {
		t.Errorf("PUT of what GET answered, duration edited = %d %v", code, body)
	}
	got["features"].(map[string]any)["hook_strength"] = 0.99
	if code, body := s.Do("PUT", "/clips/c1", got); code != 400 || !strings.Contains(body["detail"].(string), "features are read from") {
		t.Errorf("PUT with features neither stored nor given by the scores = %d %v", code, body)
	}
	if code, _ := s.Do("PUT", "/clips/c1", clipBody(23)); code != 200 {
		t.Fatalf("PUT c1 back = %d", code)
	}
	code, body = s.Do("POST", "/train/ctr-model", nil)
	if code != 200 || body["success"] != false || !strings.HasPrefix(body["message"].(string), "Not enough data") {
		t.Errorf("train with 1 clip = %d %v", code, body)
	}

	// Restart on the same file: the data is still there.
	s.Stop()
	s = MustStartServer(t, nil, "--db", db)
	if code, body := s.Do("GET", "/clips/c1", nil); code != 200 || body["duration"] != 23.0 || body["impressions"] != 1000.0 {
		t.Errorf("after restart GET /clips/c1 = %d %v", code, body)
	}
}

func TestServeBadInput(t *testing.T) {
	s := MustStartServer(t, nil, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"))
	if code, _ := s.Do("PUT", "/clips/c1", clipBody(10)); code != 201 {
		t.Fatal("setup PUT failed")
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"malformed JSON", "PUT", "/clips/c2", `{"duration": 1`, 400, "invalid"},
		{"unknown field", "PUT", "/clips/c2", `{"duration": 1, "bogus": 2}`, 400, "invalid"},
		{"NaN literal", "PUT", "/clips/c2", `{"duration": NaN}`, 400, "invalid"},
		{"huge number", "PUT", "/clips/c2", `{"duration": 1e999}`, 400, "invalid"},
		{"negative duration", "PUT", "/clips/c2", `{"duration": -3}`, 400, "invalid"},
		{"missing duration", "PUT", "/clips/c2", `{}`, 400, "invalid"},
		{"trailing data", "PUT", "/clips/c2", `{"duration": 1} {}`, 400, "invalid"},
		{"trailing brace", "PUT", "/clips/c2", `{"duration": 1}}`, 400, "invalid"},
		{"a key twice", "PUT", "/clips/c2", `{"duration": -5, "duration": 1}`, 400, "invalid"},
		{"a field in capitals", "PUT", "/clips/c2", `{"DURATION": 1}`, 400, "invalid"},
		{"a nested key twice", "PUT", "/clips/c2", `{"duration": 1, "hook_strength": {"strength": 2, "strength": 0.5}}`, 400, "invalid"},
		{"a predict field in capitals", "POST", "/predict/ctr", `{"Clip_ID": "c1"}`, 400, "invalid"},
		{"overflowing impressions", "POST", "/clips/c1/outcomes", `{"impressions": 4611686018427387904, "clicks": 0}`, 400, "invalid"},
		{"string score", "PUT", "/clips/c2", `{"duration": 1, "hook_strength": {"strength": "high"}}`, 400, "invalid"},
		{"body too large", "PUT", "/clips/c2", `{"duration": 1, "emotion_data": {"x": "` + strings.Repeat("a", 1<<20) + `"}}`, 413, "too_large"},
		{"negative impressions", "POST", "/clips/c1/outcomes", `{"impressions": -1, "clicks": 0}`, 400, "invalid"},
		{"clicks over impressions", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 6}`, 400, "invalid"},
		{"fractional clicks", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1.5}`, 400, "invalid"},
		{"missing clicks", "POST", "/clips/c1/outcomes", `{"impressions": 5}`, 400, "invalid"},
		{"outcome for unknown clip", "POST", "/clips/zz/outcomes", `{"impressions": 5, "clicks": 1}`, 404, "not_found"},
		{"outcome from the future", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": "2999-01-01T00:00:00Z"}`, 400, "invalid"},
		{"outcome at the zero time", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": "0001-01-01T00:00:00Z"}`, 400, "invalid"},
		{"outcome before 2000 in UTC", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": "2000-01-01T00:30:00+01:00"}`, 400, "invalid"},
		{"outcome time not RFC 3339", "POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": "2026-11-27"}`, 400, "invalid"},
		{"unknown feature", "POST", "/predict/ctr", `{"features": {"duration": 3, "colour": 1}}`, 400, "invalid"},
		{"string feature", "POST", "/predict/ctr", `{"features": {"duration": "3"}}`, 400, "invalid"},
		{"has_face 2", "POST", "/predict/ctr", `{"features": {"duration": 3, "has_face": 2}}`, 400, "invalid"},
		{"neither id nor features", "POST", "/predict/ctr", `{}`, 400, "invalid"},
		{"duration beyond float32", "PUT", "/clips/c2", `{"duration": 3.5e38}`, 400, "invalid"},
		{"negative impressions in a clip", "PUT", "/clips/c2", `{"duration": 1, "impressions": -5}`, 400, "invalid"},
		{"clicks over impressions in a clip", "PUT", "/clips/c2", `{"duration": 1, "impressions": 5, "clicks": 10}`, 400, "invalid"},
		{"score beyond float32", "PUT", "/clips/c2", `{"duration": 1, "hook_strength": {"strength": 1e308}}`, 400, "invalid"},
		{"inline duration beyond float32", "POST", "/predict/ctr", `{"features": {"duration": 1e308}}`, 400, "invalid"},
		{"inline score beyond float32", "POST", "/predict/ctr", `{"features": {"duration": 3, "hook_strength": -1e39}}`, 400, "invalid"},
		{"inline composite over 1", "POST", "/predict/ctr", `{"features": {"duration": 3, "composite_score": 7}}`, 400, "invalid"},
		{"id not UTF-8", "PUT", "/clips/%ff", `{"duration": 1}`, 400, "invalid"},
		// An id no write could have stored is a 400 on a read too, on
		// either store (PostgreSQL refused to take a NUL at all).
		{"NUL in a read's id", "GET", "/clips/a%00b", nil, 400, "invalid"},
		{"control character in an outcome's clip id", "POST", "/clips/a%01b/outcomes", `{"impressions": 5, "clicks": 1}`, 400, "invalid"},
		{"NUL in predict's clip_id", "POST", "/predict/ctr?clip_id=a%00b", nil, 400, "invalid"},
		{"NUL in predict's body clip_id", "POST", "/predict/ctr", `{"clip_id": "a\u0000b"}`, 400, "invalid"},
		{"bad limit", "GET", "/clips?limit=0", nil, 400, "invalid"},
		{"after not UTF-8", "GET", "/clips?after=%FF", nil, 400, "invalid"},
		{"NUL in after", "GET", "/clips?after=a%00b", nil, 400, "invalid"},
		{"actual_ctr over 1 in a clip", "PUT", "/clips/c2", `{"duration": 1, "actual_ctr": 5}`, 400, "invalid"},
		{"negative actual_ctr in a clip", "PUT", "/clips/c2", `{"duration": 1, "actual_ctr": -0.1}`, 400, "invalid"},
		{"unknown clip", "GET", "/clips/zz", nil, 404, "not_found"},
		{"wrong method", "DELETE", "/clips/c1", nil, 405, "method_not_allowed"},
		{"unknown path", "POST", "/nowhere", nil, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := s.Do(tt.method, tt.path, tt.body)
			if code != tt.status || body["code"] != tt.code || body["detail"] == "" {
				t.Errorf("= %d %v, want %d %s", code, body, tt.status, tt.code)
			}
		})
	}
	// A wrong JSON type is named as JSON, not as a Go type.
	for body, want := range map[string]string{
		`{"duration": 1, "emotion_data": [1]}`: `field "emotion_data" must be an object, got JSON array`,
		`{"duration": "long"}`:                 `field "duration" must be a number, got JSON string`,
		`[]`:                                   `the body must be an object, got JSON array`,
		// Too large for a float64: out of range, not "must be a number".
		`{"duration": 1e999}`:                            `a number in field "duration" (1e999) is out of range: numbers must be finite 64-bit floats`,
		`{"duration": 1, "emotion_data": {"x": -1e999}}`: `a number in field "emotion_data.x" (-1e999) is out of range: numbers must be finite 64-bit floats`,
	} {
		if code, b := s.Do("PUT", "/clips/c2", body); code != 400 || b["detail"] != want {
			t.Errorf("PUT %s = %d %v, want 400 %q", body, code, b, want)
		}
	}
	// A body read as a map of any names the field too.
	if code, b := s.Do("POST", "/train/ctr-model", `{"eta": 0.1, "rounds": [1e999]}`); code != 400 || b["detail"] != `a number in field "rounds[0]" (1e999) is out of range: numbers must be finite 64-bit floats` {
		t.Errorf("train with rounds [1e999] = %d %v", code, b)
	}
	// Nothing was written by the rejected requests.
	if code, _ := s.Do("GET", "/clips/c2", nil); code != 404 {
		t.Errorf("rejected PUT stored clip c2")
	}
	if code, body := s.Do("GET", "/clips/c1", nil); code != 200 || body["impressions"] != 0.0 {
		t.Errorf("rejected outcomes changed c1: %v", body)
	}
	if code, body := s.Do("GET", "/predictions/summary", nil); code != 200 || body["total"] != 0.0 {
		t.Errorf("rejected predictions were recorded: %d %v", code, body)
	}
	// A whole number is one however JSON writes it.
	if code, body := s.Do("POST", "/clips/c1/outcomes", `{"impressions": 1e2, "clicks": 4.0}`); code != 201 || body["clip_impressions"] != 100.0 {
		t.Errorf("outcome of 1e2 impressions and 4.0 clicks = %d %v", code, body)
	}
	if code, b := s.Do("POST", "/clips/c1/outcomes", `{"impressions": 10, "clicks": 1.5}`); code != 400 || b["detail"] != `field "clicks" must be a whole number below 2^63, got JSON number 1.5` {
		t.Errorf("fractional clicks = %d %v", code, b)
	}
}

// TestOutcomeObservedAt: a given observed_at is stored and answered in
// UTC, whatever offset it came with (an offset of 24 hours, which Go's
// parser accepts, used to fail the answer after the outcome was stored),
// and null means now, as leaving it out does.
func TestOutcomeObservedAt(t *testing.T) {
	s := MustStartServer(t, nil, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"))
	if code, _ := s.Do("PUT", "/clips/c1", clipBody(10)); code != 201 {
		t.Fatal("setup PUT failed")
	}
	for given, want := range map[string]string{
		`"2026-01-01T00:00:00+24:00"`:      "2025-12-31T00:00:00Z",
		`"2026-01-01T10:30:00.25+14:00"`:   "2025-12-31T20:30:00.25Z",
		`"2025-06-30T23:00:00-01:00"`:      "2025-07-01T00:00:00Z",
		`"2000-01-01T00:59:59.999-01:00"`:  "2000-01-01T01:59:59.999Z",
		`"2025-06-30T12:00:00.123456789Z"`: "2025-06-30T12:00:00.123456Z", // PostgreSQL's precision, on both stores
	} {
		code, body := s.Do("POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": `+given+`}`)
		if code != 201 || body["observed_at"] != want {
			t.Errorf("observed_at %s = %d %v, want 201 and %s", given, code, body, want)
		}
	}
	before := time.Now().Add(-time.Minute)
	code, body := s.Do("POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": null}`)
	if code != 201 {
		t.Fatalf("observed_at null = %d %v", code, body)
	}
	if at, err := time.Parse(time.RFC3339Nano, body["observed_at"].(string)); err != nil || at.Before(before) {
		t.Errorf("observed_at null stored %v (%v), want now", body["observed_at"], err)
	}
	code, body = s.Do("POST", "/clips/c1/outcomes", `{"impressions": 5, "clicks": 1, "observed_at": "2026-11-27"}`)
	if detail, _ := body["detail"].(string); code != 400 || !strings.HasPrefix(detail, "observed_at must be an RFC 3339 time") {
		t.Errorf("a date without a time = %d %v, want 400 naming observed_at", code, body)
	}
}

func TestClipsPagination(t *testing.T) {
	s := MustStartServer(t, nil, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"))
	for _, id := range []string{"b", "a", "d", "c", "e"} {
		if code, _ := s.Do("PUT", "/clips/"+id, clipBody(5)); code != 201 {
			t.Fatalf("PUT %s failed", id)
		}
	}
	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		code, body := s.Do("GET", "/clips?limit=2&after="+after, nil)
		if code != 200 {
			t.Fatalf("GET /clips = %d %v", code, body)
		}
		for _, c := range body["clips"].([]any) {
			got = append(got, c.(map[string]any)["clip_id"].(string))
		}
		if body["next"] == nil {
			break
		}
		after = body["next"].(string)
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Errorf("pages gave %v, want a..e in order", got)
	}
}

func TestServeRefusesPublicAddrWithoutToken(t *testing.T) {
	m := NewMain()
	var stderr bytes.Buffer
	m.Stderr = &stderr
	code := m.Exec(context.Background(), []string{"serve", "--addr", "0.0.0.0:0", "--db", "sqlite:" + filepath.Join(t.TempDir(), "x.db")})
	if code != 2 || !strings.Contains(stderr.String(), "LIFT_API_TOKEN") {
		t.Errorf("exit %d, stderr %q; want 2 and a message naming LIFT_API_TOKEN", code, stderr.String())
	}
}

func TestServeToken(t *testing.T) {
	s := MustStartServer(t, map[string]string{"LIFT_API_TOKEN": "s3cret"}, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"))
	if code, _ := s.Do("GET", "/healthz", nil); code != 200 {
		t.Errorf("healthz needs no token, got %d", code)
	}
	if code, body := s.Do("GET", "/clips", nil); code != 401 || body["code"] != "unauthorized" {
		t.Errorf("no token = %d %v", code, body)
	}
	if code, _ := s.Do("GET", "/clips", nil, "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("wrong token = %d", code)
	}
	if code, _ := s.Do("GET", "/clips", nil, "Authorization", "Bearer s3cret"); code != 200 {
		t.Errorf("right token = %d", code)
	}
}

// TestServeBrowserRequests: what a web page in the user's browser could
// send to a server on loopback is refused. Without a token, a request
// addressed to a name an attacker can point at 127.0.0.1 (DNS rebinding)
// is a 403, reads too; localhost and addresses pass. With a token the
// name is not checked. A cross-site write is a 403 either way.
func TestServeBrowserRequests(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	s := MustStartServer(t, nil, "--db", db)
	port := s.URL[strings.LastIndexByte(s.URL, ':'):]
	for _, host := range []string{"rebind.example" + port, "localhost.rebind.example"} {
		if code, body := s.Do("GET", "/clips", nil, "Host", host); code != 403 || body["code"] != "forbidden" {
			t.Errorf("no token, Host %s: GET /clips = %d %v, want 403 forbidden", host, code, body)
		}
		if code, _ := s.Do("PUT", "/clips/c1", clipBody(20), "Host", host); code != 403 {
			t.Errorf("no token, Host %s: PUT = %d, want 403", host, code)
		}
	}
	if code, body := s.Do("PUT", "/clips/c1", clipBody(20), "Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("no token, cross-site PUT = %d %v, want 403", code, body)
	}
	if code, _ := s.Do("GET", "/clips/c1", nil, "Host", "localhost"+port); code != 404 {
		t.Errorf("refused writes stored clip c1 (GET = %d, want 404)", code)
	}
	if code, body := s.Do("PUT", "/clips/c1", clipBody(20), "Host", "localhost"+port); code != 201 {
		t.Errorf("no token, Host localhost: PUT = %d %v, want 201", code, body)
	}
	s.Stop()

	s = MustStartServer(t, map[string]string{"LIFT_API_TOKEN": "s3cret"}, "--db", db)
	auth := []string{"Authorization", "Bearer s3cret"}
	if code, body := s.Do("GET", "/clips/c1", nil, append(auth, "Host", "lift.example.com")...); code != 200 {
		t.Errorf("token, Host lift.example.com: GET = %d %v, want 200", code, body)
	}
	if code, body := s.Do("POST", "/clips/c1/outcomes", map[string]int{"impressions": 9, "clicks": 1}, append(auth, "Origin", "https://evil.example")...); code != 403 {
		t.Errorf("token, cross-origin POST = %d %v, want 403", code, body)
	}
}

func TestServeDemo(t *testing.T) {
	s := MustStartServer(t, nil, "--db", "sqlite:"+filepath.Join(t.TempDir(), "lift.db"), "--demo")
	ctrs := map[float64]bool{}
	for _, id := range []string{"demo-0001", "demo-0002", "demo-0003", "demo-0050", "demo-0100", "demo-0200", "demo-0300"} {
		code, body := s.Do("POST", "/predict/ctr?clip_id="+id, nil)
		if code != 200 {
			t.Fatalf("predict %s = %d %v", id, code, body)
		}
		ctrs[body["predicted_ctr"].(float64)] = true
	}
	if len(ctrs) < 5 {
		t.Errorf("7 demo clips gave only %d distinct CTRs: no spread", len(ctrs))
	}
	n, after := 0, ""
	for {
		code, body := s.Do("GET", "/clips?limit=1000&after="+after, nil)
		if code != 200 {
			t.Fatalf("GET /clips = %d %v", code, body)
		}
		n += len(body["clips"].([]any))
		if body["next"] == nil {
			break
		}
		after = body["next"].(string)
	}
	if n != defaultDemoClips {
		t.Errorf("demo loaded %d clips, want %d", n, defaultDemoClips)
	}
}

// TestStoredClipBeyondTheModelsRange opens a database holding a clip with
// a score beyond float32's range, as builds before the range check could
// store: predicting or explaining it is a 400 that names the clip, and
// nothing is recorded.
func TestStoredClipBeyondTheModelsRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lift.db")
	s := MustStartServer(t, nil, "--db", "sqlite:"+path)
	if code, _ := s.Do("PUT", "/clips/c1", clipBody(10)); code != 201 {
		t.Fatal("setup PUT failed")
	}
	s.Stop()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE clips SET hook_strength = '{"strength":1e308}', f_hook = 1e308 WHERE id = 'c1'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	s = MustStartServer(t, nil, "--db", "sqlite:"+path)
	for _, path := range []string{"/predict/ctr?clip_id=c1", "/clips/c1/explain"} {
		method := "POST"
		if strings.HasSuffix(path, "explain") {
			method = "GET"
		}
		code, body := s.Do(method, path, nil)
		detail, _ := body["detail"].(string)
		if code != 400 || body["code"] != "invalid" || !strings.Contains(detail, `clip "c1"`) || !strings.Contains(detail, "hook_strength") {
			t.Errorf("%s %s = %d %v, want 400 naming the clip and the feature", method, path, code, body)
		}
	}
	if code, body := s.Do("GET", "/predictions/summary", nil); code != 200 || body["total"] != 0.0 {
		t.Errorf("a refused prediction was recorded: %d %v", code, body)
	}
}

// TestServeAnswersHealthzWhileStarting: while the database opens (here it
// waits for another process's write lock, as a long migration would keep
// it busy), /healthz answers that the process is up and every other path
// a 503 with Retry-After; once open, the API answers.
func TestServeAnswersHealthzWhileStarting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lift.db")
	if code, _, stderr := run(t, "migrate", "--db", "sqlite:"+path); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lock, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			lock.ExecContext(ctx, "ROLLBACK")
			lock.Close()
		}
	}
	defer unlock()

	m := NewMain()
	stderr := &syncBuffer{}
	m.Stderr = stderr
	m.Getenv = func(string) string { return "" }
	starting, listening := make(chan string, 1), make(chan string, 1)
	m.OnStarting = func(a string) { starting <- a }
	m.OnListen = func(a string) { listening <- a }
	done := make(chan int, 1)
	go func() { done <- m.Exec(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", "sqlite:" + path}) }()
	var base string
	select {
	case a := <-starting:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	}
	get := func(p string) (*http.Response, map[string]any) {
		t.Helper()
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	if resp, body := get("/healthz"); resp.StatusCode != 200 || body["status"] != "starting" {
		t.Errorf("healthz while starting = %d %v, want 200 starting", resp.StatusCode, body)
	}
	for _, p := range []string{"/readyz", "/clips", "/metrics"} {
		if resp, body := get(p); resp.StatusCode != 503 || body["code"] != "unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s while starting = %d %v (Retry-After %q), want 503 unavailable with Retry-After", p, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	select {
	case <-listening:
		t.Fatal("serve was ready while another connection held the write lock")
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-time.After(500 * time.Millisecond): // still opening
	}
	unlock()
	select {
	case <-listening:
	case code := <-done:
		t.Fatalf("serve exited with %d: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not become ready: %s", stderr.String())
	}
	if resp, body := get("/healthz"); resp.StatusCode != 200 || body["status"] != "ok" {
		t.Errorf("healthz when ready = %d %v", resp.StatusCode, body)
	}
	if resp, _ := get("/clips"); resp.StatusCode != 200 {
		t.Errorf("clips when ready = %d", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exited with %d: %s", code, stderr.String())
	}
}
