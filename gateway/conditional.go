package gateway

import (
	"net/http"
	"strings"
)

// outgoingHeader passes the caching headers a service sets as gRPC response
// metadata (the content enabler's public API sets them) on as HTTP headers;
// every other piece of response metadata stays inside.
func outgoingHeader(key string) (string, bool) {
	switch strings.ToLower(key) {
	case "etag":
		return "ETag", true
	case "cache-control":
		return "Cache-Control", true
	}
	return "", false
}

// conditionalGET answers a GET or HEAD whose If-None-Match matches the ETag
// of the response with 304 Not Modified and no body (RFC 9110 section
// 13.1.2), keeping ETag and Cache-Control, so that browsers and caches in
// front of citizens on slow connections reuse what they have.
func conditionalGET(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inm := r.Header.Get("If-None-Match")
		if inm == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&notModifiedWriter{ResponseWriter: w, ifNoneMatch: inm}, r)
	})
}

// notModifiedWriter turns a 200 whose ETag matches into a 304.
type notModifiedWriter struct {
	http.ResponseWriter
	ifNoneMatch string
	wrote       bool
	suppress    bool
}

func (w *notModifiedWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if code == http.StatusOK && etagMatches(w.ifNoneMatch, w.Header().Get("ETag")) {
		h := w.Header()
		h.Del("Content-Type")
		h.Del("Content-Length")
		w.suppress = true
		w.ResponseWriter.WriteHeader(http.StatusNotModified)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *notModifiedWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.suppress {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *notModifiedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// etagMatches is If-None-Match's weak comparison: "*" matches any current
// representation; otherwise one of the listed tags must equal the ETag once
// W/ prefixes are ignored.
func etagMatches(ifNoneMatch, etag string) bool {
	if etag == "" {
		return false
	}
	if strings.TrimSpace(ifNoneMatch) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == want {
			return true
		}
	}
	return false
}
