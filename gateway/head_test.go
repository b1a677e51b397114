package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestHeadOnEveryGETRoute sends HEAD to every GET route of /openapi.json,
// with a token and without one: each answers as its GET does (same
// status, same headers), with no body and a Content-Length that is the
// GET body's length.
func TestHeadOnEveryGETRoute(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.gw.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	postOnly := ""
	for path, item := range doc.Paths {
		if _, ok := item["get"]; ok {
			paths = append(paths, path)
		} else if _, ok := item["post"]; ok && len(item) == 1 && !strings.Contains(path, "{") {
			postOnly = path
		}
	}
	slices.Sort(paths)
	if len(paths) < 20 || !slices.Contains(paths, "/openapi.json") || !slices.Contains(paths, "/docs") {
		t.Fatalf("GET routes of /openapi.json = %d %v; want the API's and the documents'", len(paths), paths)
	}
	// Headers that differ between any two requests.
	perRequest := map[string]bool{"Date": true, "X-Request-Id": true, "Traceresponse": true, "Content-Length": true, "Transfer-Encoding": true}
	statuses := map[int]int{}
	for _, path := range paths {
		url := path
		for strings.Contains(url, "{") {
			i, j := strings.IndexByte(url, '{'), strings.IndexByte(url, '}')
			url = url[:i] + "1" + url[j+1:]
		}
		for _, auth := range []struct{ name, header string }{{"with a token", s.defaultAuth}, {"without", ""}} {
			hdr := map[string]string{"Authorization": auth.header}
			get, body := s.do(t, http.MethodGet, url, nil, hdr)
			head, headBody := s.do(t, http.MethodHead, url, nil, hdr)
			statuses[head.StatusCode]++
			if head.StatusCode != get.StatusCode {
				t.Errorf("HEAD %s (%s) = %d; GET = %d", url, auth.name, head.StatusCode, get.StatusCode)
				continue
			}
			if len(headBody) != 0 {
				t.Errorf("HEAD %s (%s) has a %d-byte body; want none", url, auth.name, len(headBody))
			}
			for k := range mergeKeys(get.Header, head.Header) {
				if !perRequest[k] && !slices.Equal(get.Header.Values(k), head.Header.Values(k)) {
					t.Errorf("HEAD %s (%s) %s: %q; GET's %q", url, auth.name, k, head.Header.Values(k), get.Header.Values(k))
				}
			}
			if cl := head.Header.Get("Content-Length"); len(body) > 0 && cl != strconv.Itoa(len(body)) {
				t.Errorf("HEAD %s (%s) Content-Length %q; want %d, the GET body's length", url, auth.name, cl, len(body))
			}
		}
	}
	// The walk reached the services and the policy alike.
	if statuses[http.StatusOK] == 0 || statuses[http.StatusUnauthorized] == 0 {
		t.Errorf("HEAD statuses %v; want 200s and 401s among them", statuses)
	}
	t.Logf("%d GET routes, HEAD statuses %v", len(paths), statuses)

	// A path with no GET route is not answered as one.
	resp, body := s.do(t, http.MethodHead, postOnly, nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" || len(body) != 0 {
		t.Errorf("HEAD %s (POST only) = %d Allow %q with %d bytes; want 405 Allow POST and no body", postOnly, resp.StatusCode, resp.Header.Get("Allow"), len(body))
	}
}

func mergeKeys(a, b http.Header) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
