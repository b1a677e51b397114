package gateway

import (
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// MediaAtom is the media type of the content enabler's feeds (RFC 4287).
const MediaAtom = "application/atom+xml"

// FeedPath is the route of a ministry's Atom feed, beside the public
// content routes (/v1/public/content, /v1/public/search); the query
// takes type, tag and lang as the public list does.
const FeedPath = "/v1/public/ministries/{ministry}/feed.atom"

// feedRoutes are the raw routes of the content feeds: the service renders
// the Atom document and its ETag, the gateway serves the bytes as
// application/atom+xml with the ETag and Cache-Control the service sets,
// so that conditionalGET answers a revalidation with 304, as on
// GET /v1/public/content/{slug}.
func (g *Gateway) feedRoutes(b conns) []rawRoute {
	content := contentv1.NewContentServiceClient(b.Content)
	return []rawRoute{{http.MethodGet, FeedPath, contentv1.ContentService_GetPublicFeed_FullMethodName,
		func(w http.ResponseWriter, r *http.Request, p map[string]string) {
			q := r.URL.Query()
			var md metadata.MD
			resp, err := content.GetPublicFeed(g.callContext(r), &contentv1.GetPublicFeedRequest{
				Ministry: p["ministry"], Type: q.Get("type"), Tag: q.Get("tag"), Lang: q.Get("lang"),
			}, grpc.Header(&md))
			if err == nil {
				for k, vs := range md {
					if name, ok := outgoingHeader(k); ok && len(vs) > 0 {
						w.Header().Set(name, vs[0])
					}
				}
			}
			g.writeRaw(w, r, err, MediaAtom+"; charset=utf-8", resp.GetAtom())
		}}}
}
