package content

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// Response header metadata of the public API, for the gateway to pass on
// as HTTP headers (ETag, Cache-Control).
const (
	HeaderETag         = "etag"
	HeaderCacheControl = "cache-control"
)

// grpcServer adapts the Service to the generated ContentService API; it is
// the one place where proto types meet the domain.
type grpcServer struct {
	contentv1.UnimplementedContentServiceServer
	svc *Service
}

// as returns the who of an editorial call that needs scope need: a
// ministry app's client token with that scope (content:read calls also
// accept content:write), or a
// staff member's citizen token at loa1 or above. Roles are checked by the
// use case, per ministry, and a client acts only in the ministry its token
// names (or anywhere with content:admin).
func (g *grpcServer) as(need string) func(context.Context) (Principal, error) {
	return func(ctx context.Context) (Principal, error) {
		return g.editor(ctx, need)
	}
}

// editor returns the caller of an editorial call (see as).
func (g *grpcServer) editor(ctx context.Context, need string) (Principal, error) {
	c, err := authn.Verify(ctx, g.svc.verifier, g.svc.Logger)
	if err != nil {
		return Principal{}, err
	}
	if c.ClientID != "" {
		if !c.IsClient() {
			return Principal{}, rpcerr.PermissionDenied("the token's client_id and subject differ")
		}
		if need == scope.ContentRead && c.HasScope(scope.ContentWrite) {
			need = scope.ContentWrite // content:write implies content:read
		}
		if err := authn.RequireScope(c, need); err != nil {
			return Principal{}, err
		}
		return Principal{Subject: c.Subject, Client: true, Ministry: c.Ministry, Platform: c.HasScope(scope.ContentAdmin)}, nil
	}
	if c.ACR != "loa1" && c.ACR != "loa2" {
		return Principal{}, rpcerr.PermissionDenied("a staff member's token must be at loa1 or above")
	}
	return Principal{Subject: c.Subject}, nil
}

// roleAdmin returns the client that manages roles: a ministry app holding
// content:roles, for its own ministry (the token's ministry claim), or the
// platform operator's client holding content:admin, for every ministry.
func (g *grpcServer) roleAdmin(ctx context.Context) (RoleAdmin, error) {
	c, err := authn.Verify(ctx, g.svc.verifier, g.svc.Logger)
	if err != nil {
		return RoleAdmin{}, err
	}
	if !c.IsClient() {
		return RoleAdmin{}, rpcerr.PermissionDenied("roles are managed by a client holding the content:roles scope")
	}
	if c.HasScope(scope.ContentAdmin) {
		return PlatformAdmin(c.ClientID), nil
	}
	if err := authn.RequireScope(c, scope.ContentRoles); err != nil {
		return RoleAdmin{}, err
	}
	return RoleAdmin{ClientID: c.ClientID, Ministry: c.Ministry}, nil
}

// toStatus maps domain errors to gRPC statuses in one place.
func (g *grpcServer) toStatus(ctx context.Context, err error) error {
	var vc *VersionConflictError
	if errors.As(err, &vc) {
		return rpcerr.New(codes.Aborted, rpcerr.ReasonConflict, vc.Error()).
			Meta("item_id", vc.ItemID).
			Meta("current_version", strconv.Itoa(vc.Current)).
			Meta("base_version", strconv.Itoa(vc.Base)).Err()
	}
	return rpcerr.FromDomain(err, g.svc.Logger, ctx)
}

func (g *grpcServer) CreateItem(ctx context.Context, req *contentv1.CreateItemRequest) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentWrite), func(p Principal) (Item, error) {
		return g.svc.CreateItem(ctx, p, CreateInput{
			Type: req.GetType(), Ministry: req.GetMinistry(),
			Content: Content{Tags: req.GetTags(), Translations: translationsFromProto(req.GetTranslations())},
		})
	}, itemToProto)
}

func (g *grpcServer) GetItem(ctx context.Context, req *contentv1.GetItemRequest) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) (Item, error) {
		return g.svc.GetItem(ctx, p, req.GetId())
	}, itemToProto)
}

func (g *grpcServer) ListItems(ctx context.Context, req *contentv1.ListItemsRequest) (*contentv1.ListItemsResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) ([]Item, string, error) {
		return g.svc.ListItems(ctx, p, ListFilter{
			Ministry: req.GetMinistry(), Type: req.GetType(), State: req.GetState(), PageSize: req.GetPageSize(), PageToken: req.GetPageToken(),
		})
	}, func(items []Item, next string) *contentv1.ListItemsResponse {
		return &contentv1.ListItemsResponse{Items: grpcserver.Convert(items, itemToProto), NextPageToken: next}
	})
}

func (g *grpcServer) SaveDraft(ctx context.Context, req *contentv1.SaveDraftRequest) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentWrite), func(p Principal) (Item, error) {
		return g.svc.SaveDraft(ctx, p, req.GetId(), int(req.GetBaseVersion()),
			Content{Tags: req.GetTags(), Translations: translationsFromProto(req.GetTranslations())})
	}, itemToProto)
}

func (g *grpcServer) transition(ctx context.Context, id string, a Action, comment string) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentWrite), func(p Principal) (Item, error) {
		return g.svc.Transition(ctx, p, id, a, comment)
	}, itemToProto)
}

func (g *grpcServer) SubmitItem(ctx context.Context, req *contentv1.SubmitItemRequest) (*contentv1.Item, error) {
	return g.transition(ctx, req.GetId(), ActionSubmit, req.GetComment())
}

func (g *grpcServer) ApproveItem(ctx context.Context, req *contentv1.ApproveItemRequest) (*contentv1.Item, error) {
	return g.transition(ctx, req.GetId(), ActionApprove, req.GetComment())
}

func (g *grpcServer) RejectItem(ctx context.Context, req *contentv1.RejectItemRequest) (*contentv1.Item, error) {
	return g.transition(ctx, req.GetId(), ActionReject, req.GetComment())
}

func (g *grpcServer) UnpublishItem(ctx context.Context, req *contentv1.UnpublishItemRequest) (*contentv1.Item, error) {
	return g.transition(ctx, req.GetId(), ActionUnpublish, req.GetComment())
}

func (g *grpcServer) ArchiveItem(ctx context.Context, req *contentv1.ArchiveItemRequest) (*contentv1.Item, error) {
	return g.transition(ctx, req.GetId(), ActionArchive, req.GetComment())
}

func (g *grpcServer) PublishItem(ctx context.Context, req *contentv1.PublishItemRequest) (*contentv1.Item, error) {
	var at, exp time.Time
	if req.GetPublishTime() != nil {
		at = req.GetPublishTime().AsTime()
	}
	if req.GetExpireTime() != nil {
		exp = req.GetExpireTime().AsTime()
	}
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentWrite), func(p Principal) (Item, error) {
		return g.svc.PublishItem(ctx, p, req.GetId(), at, exp, req.GetComment())
	}, itemToProto)
}

func (g *grpcServer) RollbackItem(ctx context.Context, req *contentv1.RollbackItemRequest) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentWrite), func(p Principal) (Item, error) {
		return g.svc.RollbackItem(ctx, p, req.GetId(), int(req.GetVersion()), req.GetComment())
	}, itemToProto)
}

func (g *grpcServer) ListItemVersions(ctx context.Context, req *contentv1.ListItemVersionsRequest) (*contentv1.ListItemVersionsResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) ([]VersionInfo, string, error) {
		return g.svc.ListVersions(ctx, p, req.GetId(), req.GetPageSize(), req.GetPageToken())
	}, func(vs []VersionInfo, next string) *contentv1.ListItemVersionsResponse {
		return &contentv1.ListItemVersionsResponse{NextPageToken: next, Versions: grpcserver.Convert(vs, func(v VersionInfo) *contentv1.ItemVersion {
			return &contentv1.ItemVersion{Version: int32(v.Version), SavedBy: v.SavedBy, SaveTime: timestamppb.New(v.SavedAt)}
		})}
	})
}

func (g *grpcServer) GetItemVersion(ctx context.Context, req *contentv1.GetItemVersionRequest) (*contentv1.Item, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) (Item, error) {
		return g.svc.GetVersion(ctx, p, req.GetId(), int(req.GetVersion()))
	}, itemToProto)
}

func (g *grpcServer) DiffItemVersions(ctx context.Context, req *contentv1.DiffItemVersionsRequest) (*contentv1.DiffItemVersionsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) ([]Change, error) {
		return g.svc.DiffVersions(ctx, p, req.GetId(), int(req.GetFromVersion()), int(req.GetToVersion()))
	}, func(changes []Change) *contentv1.DiffItemVersionsResponse {
		return &contentv1.DiffItemVersionsResponse{Changes: grpcserver.Convert(changes, func(c Change) *contentv1.FieldChange {
			return &contentv1.FieldChange{Path: c.Path, From: c.From, To: c.To}
		})}
	})
}

func (g *grpcServer) ListTransitions(ctx context.Context, req *contentv1.ListTransitionsRequest) (*contentv1.ListTransitionsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.ContentRead), func(p Principal) ([]TransitionRecord, error) {
		return g.svc.ListTransitions(ctx, p, req.GetId())
	}, func(ts []TransitionRecord) *contentv1.ListTransitionsResponse {
		return &contentv1.ListTransitionsResponse{Transitions: grpcserver.Convert(ts, func(t TransitionRecord) *contentv1.Transition {
			return &contentv1.Transition{
				FromState: string(t.From), ToState: string(t.To), Actor: t.Actor, Comment: t.Comment,
				Time: timestamppb.New(t.Time), Version: int32(t.Version), Action: string(t.Action),
			}
		})}
	})
}

func (g *grpcServer) GrantRole(ctx context.Context, req *contentv1.GrantRoleRequest) (*contentv1.RoleGrant, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.roleAdmin, func(admin RoleAdmin) (RoleGrant, error) {
		return g.svc.GrantRole(ctx, admin, req.GetMinistry(), req.GetSubject(), req.GetRole())
	}, func(r RoleGrant) *contentv1.RoleGrant {
		return &contentv1.RoleGrant{Ministry: r.Ministry, Subject: r.Subject, Role: string(r.Role), GrantTime: timestamppb.New(r.GrantTime)}
	})
}

func (g *grpcServer) RevokeRole(ctx context.Context, req *contentv1.RevokeRoleRequest) (*contentv1.RevokeRoleResponse, error) {
	admin, err := g.roleAdmin(ctx)
	if err != nil {
		return nil, err
	}
	if err := g.svc.RevokeRole(ctx, admin, req.GetMinistry(), req.GetSubject(), req.GetRole()); err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &contentv1.RevokeRoleResponse{}, nil
}

// cacheControl is the Cache-Control of public responses.
func (g *grpcServer) cacheControl() string {
	age := int(g.svc.cfg.PublicMaxAge / time.Second)
	if age <= 0 {
		return "no-cache"
	}
	return "public, max-age=" + strconv.Itoa(age)
}

func (g *grpcServer) GetPublicContent(ctx context.Context, req *contentv1.GetPublicContentRequest) (*contentv1.PublicContent, error) {
	return grpcserver.Unary(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (PublicContent, error) {
		return g.svc.GetPublicContent(ctx, req.GetSlug(), req.GetLang())
	}, func(pc PublicContent) *contentv1.PublicContent {
		// Headers for the gateway; a failure only loses a cache hint.
		_ = grpc.SetHeader(ctx, metadata.Pairs(HeaderETag, pc.ETag, HeaderCacheControl, g.cacheControl()))
		return publicToProto(pc)
	})
}

func (g *grpcServer) ListPublicContent(ctx context.Context, req *contentv1.ListPublicContentRequest) (*contentv1.ListPublicContentResponse, error) {
	return grpcserver.List(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) ([]PublicContent, string, error) {
		return g.svc.ListPublicContent(ctx, PublicFilter{
			Ministry: req.GetMinistry(), Type: req.GetType(), Tag: req.GetTag(), Lang: req.GetLang(),
			PageSize: req.GetPageSize(), PageToken: req.GetPageToken(),
		})
	}, func(items []PublicContent, next string) *contentv1.ListPublicContentResponse {
		_ = grpc.SetHeader(ctx, metadata.Pairs(HeaderCacheControl, g.cacheControl()))
		return &contentv1.ListPublicContentResponse{Items: grpcserver.Convert(items, publicToProto), NextPageToken: next}
	})
}

func (g *grpcServer) SearchPublicContent(ctx context.Context, req *contentv1.SearchPublicContentRequest) (*contentv1.SearchPublicContentResponse, error) {
	var total int
	return grpcserver.List(ctx, g.toStatus, grpcserver.Anyone, func(struct{}) (hits []Hit, next string, err error) {
		hits, next, total, err = g.svc.SearchPublicContent(ctx, req.GetQ(), req.GetLang(), req.GetPageSize(), req.GetPageToken())
		return hits, next, err
	}, func(hits []Hit, next string) *contentv1.SearchPublicContentResponse {
		_ = grpc.SetHeader(ctx, metadata.Pairs(HeaderCacheControl, g.cacheControl()))
		return &contentv1.SearchPublicContentResponse{NextPageToken: next, Total: int32(total), Hits: grpcserver.Convert(hits, func(h Hit) *contentv1.SearchHit {
			return &contentv1.SearchHit{Content: publicToProto(h.Content), Score: h.Score, Snippet: h.Snippet}
		})}
	})
}

// --- mapping ---------------------------------------------------------------

func translationsFromProto(m map[string]*contentv1.Translation) map[string]Translation {
	out := make(map[string]Translation, len(m))
	for lang, t := range m {
		tr := Translation{
			Slug: t.GetSlug(), Title: t.GetTitle(), Summary: t.GetSummary(), Body: t.GetBody(),
			Eligibility: t.GetEligibility(), RequiredDocuments: t.GetRequiredDocuments(), Steps: t.GetSteps(),
			ProcessingTime: t.GetProcessingTime(),
		}
		for _, f := range t.GetFees() {
			tr.Fees = append(tr.Fees, Fee{Description: f.GetDescription(), Amount: f.GetAmount(), Currency: f.GetCurrency()})
		}
		for _, l := range t.GetLinks() {
			tr.Links = append(tr.Links, Link{Title: l.GetTitle(), URL: l.GetUrl()})
		}
		for _, q := range t.GetQuestions() {
			tr.Questions = append(tr.Questions, QA{Question: q.GetQuestion(), Answer: q.GetAnswer()})
		}
		out[lang] = tr
	}
	return out
}

func translationToProto(tr Translation) *contentv1.Translation {
	out := &contentv1.Translation{
		Slug: tr.Slug, Title: tr.Title, Summary: tr.Summary, Body: tr.Body, Eligibility: tr.Eligibility,
		RequiredDocuments: tr.RequiredDocuments, Steps: tr.Steps, ProcessingTime: tr.ProcessingTime,
	}
	for _, f := range tr.Fees {
		out.Fees = append(out.Fees, &contentv1.Fee{Description: f.Description, Amount: f.Amount, Currency: f.Currency})
	}
	for _, l := range tr.Links {
		out.Links = append(out.Links, &contentv1.Link{Title: l.Title, Url: l.URL})
	}
	for _, q := range tr.Questions {
		out.Questions = append(out.Questions, &contentv1.QuestionAnswer{Question: q.Question, Answer: q.Answer})
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func itemToProto(it Item) *contentv1.Item {
	out := &contentv1.Item{
		Id: it.ID, Type: string(it.Type), Ministry: it.Ministry, Tags: it.Tags, State: string(it.State),
		Version: int32(it.Version), PublishedVersion: int32(it.PublishedVersion),
		Translations: map[string]*contentv1.Translation{},
		CreateTime:   ts(it.CreateTime), UpdateTime: ts(it.UpdateTime), PublishTime: ts(it.PublishAt), ExpireTime: ts(it.ExpireAt),
		UpdatedBy: it.UpdatedBy,
	}
	for lang, tr := range it.Translations {
		out.Translations[lang] = translationToProto(tr)
	}
	return out
}

func publicToProto(pc PublicContent) *contentv1.PublicContent {
	tr := translationToProto(pc.Translation.Translation)
	tr.BodyHtml, tr.EligibilityHtml = pc.Translation.BodyHTML, pc.Translation.EligibilityHTML
	for i, q := range tr.Questions {
		if i < len(pc.Translation.AnswersHTML) {
			q.AnswerHtml = pc.Translation.AnswersHTML[i]
		}
	}
	return &contentv1.PublicContent{
		Id: pc.ID, Type: pc.Type, Ministry: pc.Ministry, Tags: pc.Tags, Lang: pc.Lang, Fallback: pc.Fallback,
		Translation: tr, PublishTime: ts(pc.PublishTime), ExpireTime: ts(pc.ExpireTime), Version: int32(pc.Version), Etag: pc.ETag,
	}
}
