package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWrongMethod: a path the server routes, asked with a method it does
// not take, is a 405 naming the methods it does take; GET and HEAD too,
// which the dashboard's page at "/" must not swallow. An unknown path is
// a 404.
func TestWrongMethod(t *testing.T) {
	h := newTestServer(t, 1).Handler()
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
