package signature

import (
	"context"
	"encoding/pem"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

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
	return rpcerr.FromDomain(err, g.svc.log, ctx)
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

// CreateCredential needs a citizen at loa2 with a step-up no older than
// step-up-max-age, or a client with the seal scope.
func (g *grpcServer) CreateCredential(ctx context.Context, req *signaturev1.CreateCredentialRequest) (*signaturev1.Credential, error) {
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
	c, err := g.svc.createCredential(ctx, p, CredentialRequest{
		KeyAlgorithm: req.GetKeyAlgorithm(), Description: req.GetDescription(), GivenName: req.GetGivenName(),
		FamilyName: req.GetFamilyName(), NationalID: req.GetNationalId(), OrganizationName: req.GetOrganizationName(),
	})
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return credentialProto(c), nil
}

// GetCredential returns one of the caller's credentials.
func (g *grpcServer) GetCredential(ctx context.Context, req *signaturev1.GetCredentialRequest) (*signaturev1.Credential, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	c, err := g.svc.getCredential(ctx, p, req.GetCredentialId())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return credentialProto(c), nil
}

// ListCredentials pages through the caller's credentials.
func (g *grpcServer) ListCredentials(ctx context.Context, req *signaturev1.ListCredentialsRequest) (*signaturev1.ListCredentialsResponse, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := g.svc.listCredentials(ctx, p, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	out := &signaturev1.ListCredentialsResponse{NextPageToken: next}
	for _, c := range list {
		out.Credentials = append(out.Credentials, credentialProto(c))
	}
	return out, nil
}

// RevokeCredential: the citizen (fresh loa2) or a client with signing:admin.
func (g *grpcServer) RevokeCredential(ctx context.Context, req *signaturev1.RevokeCredentialRequest) (*signaturev1.Credential, error) {
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
	c, err := g.svc.revokeCredential(ctx, p, req.GetCredentialId(), req.GetReason())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return credentialProto(c), nil
}

// AuthorizeCredential issues a SAD after a fresh step-up (sole control).
func (g *grpcServer) AuthorizeCredential(ctx context.Context, req *signaturev1.AuthorizeCredentialRequest) (*signaturev1.AuthorizeCredentialResponse, error) {
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
	sad, ttl, err := g.svc.authorizeCredential(ctx, p, req.GetCredentialId(), req.GetHashes(), req.GetHashAlgorithm())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.AuthorizeCredentialResponse{Sad: sad, ExpiresIn: int32(ttl / time.Second)}, nil
}

// SignDocument signs with a SAD.
func (g *grpcServer) SignDocument(ctx context.Context, req *signaturev1.SignDocumentRequest) (*signaturev1.Signature, error) {
	p, err := g.svc.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if err := requireCitizenOrSeal(p); err != nil {
		return nil, err
	}
	res, err := g.svc.signDocument(ctx, p, SignRequest{
		CredentialID: req.GetCredentialId(), SAD: req.GetSad(), Document: req.GetDocument(), Hash: req.GetHash(),
		HashAlgorithm: req.GetHashAlgorithm(), Format: req.GetFormat(), DocumentName: req.GetDocumentName(),
	})
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.Signature{
		SignatureId: res.ID, Format: res.Format, Signature: res.Signature, SignedDocument: res.SignedDocument,
		SigningTime: ts(res.SigningTime), Level: res.Level,
	}, nil
}

// VerifySignature validates for any authenticated caller.
func (g *grpcServer) VerifySignature(ctx context.Context, req *signaturev1.VerifySignatureRequest) (*signaturev1.ValidationReport, error) {
	if _, err := g.svc.authenticate(ctx); err != nil {
		return nil, err
	}
	r, err := g.svc.verifySignature(ctx, req.GetSignature(), req.GetDocument(), req.GetFormat())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	out := &signaturev1.ValidationReport{
		Indication: r.Indication, SubIndication: r.SubIndication, SignerSubject: r.SignerSubject,
		SignerSerialNumber: r.SignerSerial, SigningTime: ts(r.SigningTime), TimestampTime: ts(r.TimestampTime),
		Level: r.Level, Chain: r.Chain, RevocationStatus: r.RevocationStatus, RevocationTime: ts(r.RevokedAt), Format: r.Format,
	}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, &signaturev1.ValidationCheck{Name: c.Name, Passed: c.Passed, Detail: c.Detail})
	}
	return out, nil
}

// GetCaCertificates is public.
func (g *grpcServer) GetCaCertificates(ctx context.Context, _ *signaturev1.GetCaCertificatesRequest) (*signaturev1.GetCaCertificatesResponse, error) {
	a, err := g.svc.ca(ctx)
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.GetCaCertificatesResponse{Pem: a.chainPEM()}, nil
}

// GetCrl is public.
func (g *grpcServer) GetCrl(ctx context.Context, _ *signaturev1.GetCrlRequest) (*signaturev1.GetCrlResponse, error) {
	der, err := g.svc.currentCRL(ctx)
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.GetCrlResponse{Crl: der}, nil
}

// Timestamp is public (RFC 3161).
func (g *grpcServer) Timestamp(ctx context.Context, req *signaturev1.TimestampRequest) (*signaturev1.TimestampResponse, error) {
	reply, err := g.svc.timestamp(ctx, req.GetQuery())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.TimestampResponse{Reply: reply}, nil
}

// CheckOcsp is public (RFC 6960).
func (g *grpcServer) CheckOcsp(ctx context.Context, req *signaturev1.CheckOcspRequest) (*signaturev1.CheckOcspResponse, error) {
	resp, err := g.svc.ocspResponse(ctx, req.GetRequest())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &signaturev1.CheckOcspResponse{Response: resp}, nil
}
