package gateway

import (
	"context"
	"net/http"
	"strconv"
)

// headAsGET answers HEAD on every GET route (RFC 9110 section 9.3.2):
// the request goes through the mux, the route policy and the service as
// the GET it stands for, so HEAD needs the same token and gets the same
// status and headers, and the body is dropped. Content-Length is the
// length of the body the GET would have had. A path with no GET route
// goes on as HEAD and is answered 405 (or 404) like any other method it
// has no route for; a route registered for HEAD itself keeps it.
func (g *Gateway) headAsGET(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead || g.routes.has(r, http.MethodHead) || !g.routes.has(r, http.MethodGet) {
			next.ServeHTTP(w, r)
			return
		}
		get := r.WithContext(r.Context())
		get.Method = http.MethodGet
		hw := &headWriter{ResponseWriter: w}
		next.ServeHTTP(hw, get)
		hw.finish()
	})
}

// headWriter keeps a GET's status and headers for a HEAD and drops its
// body, counting it so that Content-Length can say how long it is. The
// status is sent when the handler is done: only then is the length known.
type headWriter struct {
	http.ResponseWriter
	statusRecord
	size int64
}

// WriteHeader records the first status.
func (w *headWriter) WriteHeader(code int) { w.note(code) }

// Write counts b and drops it.
func (w *headWriter) Write(b []byte) (int, error) {
	w.note(http.StatusOK)
	w.size += int64(len(b))
	return len(b), nil
}

// Unwrap gives http.ResponseController the connection's writer.
func (w *headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish sends the status and headers the GET would have sent.
func (w *headWriter) finish() {
	code := w.code()
	h := w.Header()
	if h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" && w.size > 0 && bodyAllowed(code) {
		h.Set("Content-Length", strconv.FormatInt(w.size, 10))
	}
	w.ResponseWriter.WriteHeader(code)
}

// statusRecord is the status a response writer wrapper saw: the first one
// written, 200 implied by a body written without one (net/http's rule).
type statusRecord struct{ status int }

// note records code unless a status was recorded before.
func (s *statusRecord) note(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// written reports whether a status or body was written.
func (s *statusRecord) written() bool { return s.status != 0 }

// code is the response's status: 200 when nothing said otherwise.
func (s *statusRecord) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// bodyAllowed reports whether a response of status code has a body
// (RFC 9110 section 6.4.1).
func bodyAllowed(code int) bool {
	return code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
}

// has reports whether r's path has a route for method.
func (t *routeTable) has(r *http.Request, method string) bool {
	if t.probe == nil {
		if err := t.init(); err != nil {
			return false
		}
	}
	hit := &probeHit{}
	pr := r.Clone(context.WithValue(r.Context(), probeKey{}, hit))
	pr.Method = method
	pr.Body = http.NoBody
	t.probe.ServeHTTP(discardWriter{}, pr)
	return hit.matched
}

// Flush does nothing: no byte of a HEAD's body is sent, and its headers
// wait for the length.
func (w *headWriter) Flush() {}
