package signature

import (
	"context"
	"encoding/pem"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// grpcServer adapts the Service to the generated SignatureService API; it is
// the one place where proto types meet the domain, and errors are mapped
// to codes here (toStatus) and nowhere else.
type grpcServer struct {
	signaturev1.UnimplementedSignatureServiceServer
	svc *Service
}

// toStatus maps domain errors to gRPC statuses in one place.
func (g *grpcServer) toStatus(ctx context.Context, err error) error {
	return rpcerr.FromDomain(err, g.svc.Logger, ctx)
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func credentialProto(c *Credential) *signaturev1.Credential {
	return &signaturev1.Credential{
		CredentialId:     c.ID,
		Status:           c.Status,
		KeyAlgorithm:     c.KeyAlgorithm,
		CertificatePem:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Raw})),
		SerialNumber:     c.Serial,
		Subject:          c.Subject,
		NotBefore:        ts(c.NotBefore),
		NotAfter:         ts(c.NotAfter),
		CreateTime:       ts(c.CreatedAt),
		RevokeTime:       ts(c.RevokedAt),
		RevocationReason: c.RevocationReason,
		Description:      c.Description,
	}
}

// signer is the caller of a call that creates or unlocks a signing key: a
// citizen at loa2 with a step-up no older than step-up-max-age, or a client
// with the seal scope.
func (g *grpcServer) signer(ctx context.Context) (*principal, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireCitizenOrSeal(p); err != nil {
		return nil, err
	}
	if p.isCitizen() {
		if err := g.svc.requireFreshStepUp(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// CreateCredential needs a citizen at loa2 with a step-up no older than
// step-up-max-age, or a client with the seal scope.
func (g *grpcServer) CreateCredential(ctx context.Context, req *signaturev1.CreateCredentialRequest) (*signaturev1.Credential, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.signer, func(p *principal) (*Credential, error) {
		return g.svc.createCredential(ctx, p, CredentialRequest{
			KeyAlgorithm: req.GetKeyAlgorithm(), Description: req.GetDescription(), GivenName: req.GetGivenName(),
			FamilyName: req.GetFamilyName(), NationalID: req.GetNationalId(), OrganizationName: req.GetOrganizationName(),
		})
	}, credentialProto)
}

// GetCredential returns one of the caller's credentials.
func (g *grpcServer) GetCredential(ctx context.Context, req *signaturev1.GetCredentialRequest) (*signaturev1.Credential, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.svc.authenticate, func(p *principal) (*Credential, error) {
		return g.svc.getCredential(ctx, p, req.GetCredentialId())
	}, credentialProto)
}

// ListCredentials pages through the caller's credentials.
func (g *grpcServer) ListCredentials(ctx context.Context, req *signaturev1.ListCredentialsRequest) (*signaturev1.ListCredentialsResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.svc.authenticate, func(p *principal) ([]*Credential, string, error) {
		return g.svc.listCredentials(ctx, p, int(req.GetPageSize()), req.GetPageToken())
	}, func(list []*Credential, next string) *signaturev1.ListCredentialsResponse {
		return &signaturev1.ListCredentialsResponse{Credentials: grpcserver.Convert(list, credentialProto), NextPageToken: next}
	})
}

// RevokeCredential: the citizen (fresh loa2) or a client with signing:admin.
func (g *grpcServer) RevokeCredential(ctx context.Context, req *signaturev1.RevokeCredentialRequest) (*signaturev1.Credential, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.revoker, func(p *principal) (*Credential, error) {
		return g.svc.revokeCredential(ctx, p, req.GetCredentialId(), req.GetReason())
	}, credentialProto)
}

// revoker is the caller of RevokeCredential.
func (g *grpcServer) revoker(ctx context.Context) (*principal, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if p.isCitizen() {
		if err := g.svc.requireFreshStepUp(p); err != nil {
			return nil, err
		}
	} else if !p.hasScope(scope.SigningAdmin) && !p.hasScope(scope.SigningSeal) {
		return nil, rpcerr.PermissionDenied("revoking needs the credential's citizen or a client with scope " + scope.SigningAdmin)
	}
	return p, nil
}

// AuthorizeCredential issues a SAD after a fresh step-up (sole control).
func (g *grpcServer) AuthorizeCredential(ctx context.Context, req *signaturev1.AuthorizeCredentialRequest) (*signaturev1.AuthorizeCredentialResponse, error) {
	var ttl time.Duration
	return grpcserver.Unary(ctx, g.toStatus, g.signer, func(p *principal) (sad string, err error) {
		sad, ttl, err = g.svc.authorizeCredential(ctx, p, req.GetCredentialId(), req.GetHashes(), req.GetHashAlgorithm())
		return sad, err
	}, func(sad string) *signaturev1.AuthorizeCredentialResponse {
		return &signaturev1.AuthorizeCredentialResponse{Sad: sad, ExpiresIn: int32(ttl / time.Second)}
	})
}

// SignDocument signs with a SAD.
func (g *grpcServer) SignDocument(ctx context.Context, req *signaturev1.SignDocumentRequest) (*signaturev1.Signature, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.sealer, func(p *principal) (*SignResult, error) {
		return g.svc.signDocument(ctx, p, SignRequest{
			CredentialID: req.GetCredentialId(), SAD: req.GetSad(), Document: req.GetDocument(), Hash: req.GetHash(),
			HashAlgorithm: req.GetHashAlgorithm(), Format: req.GetFormat(), DocumentName: req.GetDocumentName(),
		})
	}, func(res *SignResult) *signaturev1.Signature {
		return &signaturev1.Signature{
			SignatureId: res.ID, Format: res.Format, Signature: res.Signature, SignedDocument: res.SignedDocument,
			SigningTime: ts(res.SigningTime), Level: res.Level,
		}
	})
}

// sealer is the caller of SignDocument: a citizen or a client with the seal
// scope (the SAD proves the step-up).
func (g *grpcServer) sealer(ctx context.Context) (*principal, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return p, requireCitizenOrSeal(p)
}

// VerifySignature validates for any authenticated caller.
func (g *grpcServer) VerifySignature(ctx context.Context, req *signaturev1.VerifySignatureRequest) (*signaturev1.ValidationReport, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.svc.authenticate, func(*principal) (*Report, error) {
		return g.svc.verifySignature(ctx, req.GetSignature(), req.GetDocument(), req.GetFormat())
	}, reportProto)
}

// reportProto maps a validation report to its API form.
func reportProto(r *Report) *signaturev1.ValidationReport {
	out := &signaturev1.ValidationReport{
		Indication: r.Indication, SubIndication: r.SubIndication, SignerSubject: r.SignerSubject,
		SignerSerialNumber: r.SignerSerial, SigningTime: ts(r.SigningTime), TimestampTime: ts(r.TimestampTime),
		Level: r.Level, Chain: r.Chain, RevocationStatus: r.RevocationStatus, RevocationTime: ts(r.RevokedAt), Format: r.Format,
	}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, &signaturev1.ValidationCheck{Name: c.Name, Passed: c.Passed, Detail: c.Detail})
	}
	return out
}

// GetCaCertificates is public.
func (g *grpcServer) GetCaCertificates(ctx context.Context, _ *signaturev1.GetCaCertificatesRequest) (*signaturev1.GetCaCertificatesResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (*authority, error) {
		return g.svc.ca(ctx)
	}, func(a *authority) *signaturev1.GetCaCertificatesResponse {
		return &signaturev1.GetCaCertificatesResponse{Pem: a.chainPEM()}
	})
}

// GetCrl is public.
func (g *grpcServer) GetCrl(ctx context.Context, _ *signaturev1.GetCrlRequest) (*signaturev1.GetCrlResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) ([]byte, error) {
		return g.svc.currentCRL(ctx)
	}, func(der []byte) *signaturev1.GetCrlResponse {
		return &signaturev1.GetCrlResponse{Crl: der}
	})
}

// Timestamp is public (RFC 3161).
func (g *grpcServer) Timestamp(ctx context.Context, req *signaturev1.TimestampRequest) (*signaturev1.TimestampResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) ([]byte, error) {
		return g.svc.timestamp(ctx, req.GetQuery())
	}, func(reply []byte) *signaturev1.TimestampResponse {
		return &signaturev1.TimestampResponse{Reply: reply}
	})
}

// CheckOcsp is public (RFC 6960).
func (g *grpcServer) CheckOcsp(ctx context.Context, req *signaturev1.CheckOcspRequest) (*signaturev1.CheckOcspResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) ([]byte, error) {
		return g.svc.ocspResponse(ctx, req.GetRequest())
	}, func(resp []byte) *signaturev1.CheckOcspResponse {
		return &signaturev1.CheckOcspResponse{Response: resp}
	})
}
