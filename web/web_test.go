package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	cases := []struct {
		path, wantType string
		want           int
		body           string
	}{
		{"/", "text/html", 200, `<main id="app">`},
		{"/s/s123", "text/html", 200, `<main id="app">`},
		{"/events/e1", "text/html", 200, `<main id="app">`},
		{"/index.html", "text/html", 200, `<main id="app">`},
		{"/app.js", "text/javascript", 200, "enterRoom"},
		{"/media.js", "text/javascript", 200, "RTCPeerConnection"},
		{"/style.css", "text/css", 200, ":root"},
		{"/assets/logo.svg", "image/svg+xml", 200, "<svg"},
		{"/missing.js", "", 404, ""},
		{"/web.go", "", 404, ""},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.want {
			t.Errorf("%s: status %d, want %d", c.path, rec.Code, c.want)
			continue
		}
		if c.wantType != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), c.wantType) {
			t.Errorf("%s: type %q, want %q", c.path, rec.Header().Get("Content-Type"), c.wantType)
		}
		if !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s: body lacks %q", c.path, c.body)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}
