package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openAPIOp is the part of an operation the test checks.
type openAPIOp struct {
	Parameters []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
	Security  *[]map[string][]string     `json:"security"`
}

func loadOpenAPI(t *testing.T) (map[string]map[string]openAPIOp, map[string]any) {
	t.Helper()
	var doc struct {
		OpenAPI string                          `json:"openapi"`
		Paths   map[string]map[string]openAPIOp `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	var whole map[string]any
	if err := json.Unmarshal(openAPIDoc, &whole); err != nil {
		t.Fatal(err)
	}
	return doc.Paths, whole
}

// TestOpenAPIMatchesRoutes fails when a route is undocumented or the
// document describes a route the server does not have.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t, 1) // every optional dependency set: all routes
	if s.Experiments == nil || s.Metrics == nil {
		t.Fatal("the test server must register every route")
	}
	paths, _ := loadOpenAPI(t)
	routes := map[string]route{}
	for _, r := range s.routes() {
		method, path, ok := strings.Cut(r.pattern, " ")
		if !ok {
			t.Fatalf("route %q has no method", r.pattern)
		}
		path = strings.TrimSuffix(path, "{$}") // "/{$}" is exactly "/"
		key := strings.ToLower(method) + " " + path
		routes[key] = r
		op, ok := paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("route %s is not in openapi.json", r.pattern)
			continue
		}
		// Path parameters: the same names in the pattern and the document.
		var inPath, documented []string
		for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		for _, p := range op.Parameters {
			if p.In == "path" {
				documented = append(documented, p.Name)
			}
		}
		slices.Sort(inPath)
		slices.Sort(documented)
		if !slices.Equal(inPath, documented) {
			t.Errorf("%s: path parameters %v documented as %v", r.pattern, inPath, documented)
		}
		// Public routes say so with an empty security list; the others
		// inherit the document's bearer requirement.
		if public := op.Security != nil && len(*op.Security) == 0; public != r.public {
			t.Errorf("%s: public=%v in openapi.json, %v in routes()", r.pattern, public, r.public)
		}
		if !r.public {
			if _, ok := op.Responses["401"]; !ok {
				t.Errorf("%s: no 401 response documented", r.pattern)
			}
		}
		// Every route refuses cross-origin browser writes and, without a
		// token, foreign host names (checkSource).
		if _, ok := op.Responses["403"]; !ok {
			t.Errorf("%s: no 403 response documented", r.pattern)
		}
		// Every route that reads the database or has a time limit can
		// answer 503; the static ones and the liveness probe cannot.
		if _, ok := op.Responses["503"]; ok == noDatabase[r.pattern] {
			t.Errorf("%s: 503 documented %v, want %v", r.pattern, ok, !noDatabase[r.pattern])
		}
		if !slices.ContainsFunc(mapsKeys(op.Responses), func(c string) bool { return strings.HasPrefix(c, "2") }) {
			t.Errorf("%s: no success response documented", r.pattern)
		}
	}
	for path, item := range paths {
		for method := range item {
			if _, ok := routes[method+" "+path]; !ok {
				t.Errorf("openapi.json has %s %s, which is not a route", strings.ToUpper(method), path)
			}
		}
	}
}

func mapsKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestOpenAPIRefs fails on a $ref that points nowhere.
func TestOpenAPIRefs(t *testing.T) {
	_, whole := loadOpenAPI(t)
	var walk func(v any)
	n := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				n++
				var cur any = whole
				for _, k := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[k]
				}
				if cur == nil {
					t.Errorf("$ref %s resolves to nothing", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(whole)
	if n == 0 {
		t.Fatal("no $ref found; the walk is broken")
	}
}

// TestOpenAPIServed checks /openapi.json and /docs answer with the token
// and, as INTERFACE.md requires of every endpoint but the probes and
// /metrics, refuse without it.
func TestOpenAPIServed(t *testing.T) {
	srv := newTestServer(t, 1)
	h := srv.Handler()
	for _, c := range []struct{ path, ctype, contains string }{
		{"/openapi.json", "application/json", `"openapi": "3.0.`},
		{"/docs", "text/html", `fetch("openapi.json")`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", c.path, nil))
		if srv.Token != "" && w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without the token = %d, want 401", c.path, w.Code)
		}
		w = httptest.NewRecorder()
		req := httptest.NewRequest("GET", c.path, nil)
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s = %d %q, want 200 %s", c.path, w.Code, w.Header().Get("Content-Type"), c.ctype)
		}
		if !strings.Contains(w.Body.String(), c.contains) {
			t.Errorf("GET %s does not contain %q", c.path, c.contains)
		}
	}
}

// noDatabase are the routes that answer without the database.
var noDatabase = map[string]bool{
	"GET /healthz": true, "GET /metrics": true, "GET /openapi.json": true, "GET /docs": true,
	"GET /{$}": true, "GET /ui/{file}": true,
}
