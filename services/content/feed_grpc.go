package content

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// GetPublicFeed serves PublicFeed to anyone, with the document's ETag and
// the public Cache-Control as response headers for the gateway to pass on
// (as GetPublicContent does).
func (g *grpcServer) GetPublicFeed(ctx context.Context, req *contentv1.GetPublicFeedRequest) (*contentv1.PublicFeed, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (Feed, error) {
		return g.svc.PublicFeed(ctx, FeedFilter{Ministry: req.GetMinistry(), Type: req.GetType(), Tag: req.GetTag(), Lang: req.GetLang()})
	}, func(f Feed) *contentv1.PublicFeed {
		// Headers for the gateway; a failure only loses a cache hint.
		_ = grpc.SetHeader(ctx, metadata.Pairs(HeaderETag, f.ETag, HeaderCacheControl, g.cacheControl()))
		return &contentv1.PublicFeed{Atom: f.Atom, Etag: f.ETag, Entries: int32(f.Entries)}
	})
}
