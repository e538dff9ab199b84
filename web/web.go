// Package web is Greenroom's browser client: plain JavaScript modules and
// CSS, embedded so the local runner serves it with no build step. The same
// files deploy as static files anywhere (serve index.html for unknown
// paths, as Handler does).
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed index.html *.js *.css assets
var files embed.FS

// Handler serves the client. Files are served as they are; the share link
// /s/{sessionId} and every other path that is not a file get index.html,
// whose client-side router reads the location. Paths that look like a
// file (an extension in the last segment) and are missing get a 404.
func Handler() http.Handler {
	root, _ := fs.Sub(files, ".")
	static := http.FileServerFS(root)
	index, _ := fs.ReadFile(files, "index.html")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if p != "" && p != "index.html" {
			if st, err := fs.Stat(root, p); err == nil && !st.IsDir() {
				w.Header().Set("Cache-Control", "no-cache")
				if strings.HasSuffix(p, ".js") {
					w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
				}
				static.ServeHTTP(w, r)
				return
			}
			if strings.Contains(path.Base(p), ".") {
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(index)
	})
}
