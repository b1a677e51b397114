package gateway_test

import (
	"encoding/json"
	"net/http"
	"regexp"
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
	// A path answers a method when any template of that method matches it
	// (/v1/notifications/sms is POST-only but matches GET /v1/notifications/{id}).
	served := func(path, method string) bool {
		for tmpl, item := range doc.Paths {
			if _, ok := item[method]; ok && regexp.MustCompile("^"+regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(regexp.QuoteMeta(tmpl), `[^/]+`)+"$").MatchString(path) {
				return true
			}
		}
		return false
	}
	var paths, postOnlies, getOnlies []string
	for path, item := range doc.Paths {
		if _, ok := item["get"]; ok {
			paths = append(paths, path)
		}
		if strings.Contains(path, "{") {
			continue
		}
		switch {
		case served(path, "get") && !served(path, "post") && !served(path, "delete") && strings.HasPrefix(path, "/v1/"):
			getOnlies = append(getOnlies, path)
		case served(path, "post") && !served(path, "get"):
			postOnlies = append(postOnlies, path)
		}
	}
	slices.Sort(postOnlies)
	slices.Sort(getOnlies)
	if len(postOnlies) == 0 || len(getOnlies) == 0 {
		t.Fatalf("no POST-only (%v) or GET-only (%v) path to probe", postOnlies, getOnlies)
	}
	postOnly, getOnly := postOnlies[0], getOnlies[0]
	t.Logf("probing 405 on %s (POST only) and %s (GET only)", postOnly, getOnly)
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
	// A path with a GET route allows HEAD too, and says so (RFC 9110
	// section 15.5.6: Allow lists every method the resource supports).
	resp, _ = s.do(t, http.MethodDelete, getOnly, nil, nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE %s (GET only) = %d Allow %q; want 405 Allow \"GET, HEAD\"", getOnly, resp.StatusCode, resp.Header.Get("Allow"))
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
