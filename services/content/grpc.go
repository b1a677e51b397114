package content

import (
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// grpcServer adapts the Service to the generated ContentService API; it is
// the one place where proto types meet the domain. Operations the enabler
// does not implement yet answer codes.Unimplemented (HTTP 501) through the
// embedded type; nothing is faked.
type grpcServer struct {
	contentv1.UnimplementedContentServiceServer
	svc *Service
}
