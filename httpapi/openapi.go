package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDoc is the hand-written OpenAPI 3.0 description of routes();
// openapi_test.go fails when the two disagree.
//
//go:embed openapi.json
var openAPIDoc []byte

// docsPage renders openAPIDoc in a browser with plain JavaScript, so the
// binary serves its own reference without reaching a CDN.
//
//go:embed docs.html
var docsPage []byte

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDoc)
	return err
}

func (s *Server) docs(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	_, err := w.Write(docsPage)
	return err
}
