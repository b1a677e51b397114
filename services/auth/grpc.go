package auth

import (
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// grpcServer adapts the Service to the generated AuthService API; it is
// the one place where proto types meet the domain. Operations the enabler
// does not implement yet answer codes.Unimplemented (HTTP 501) through the
// embedded type; nothing is faked.
type grpcServer struct {
	authv1.UnimplementedAuthServiceServer
	svc *Service
}
