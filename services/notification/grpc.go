package notification

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// grpcServer adapts the Service to the generated NotificationService API; it is
// the one place where proto types meet the domain.
type grpcServer struct {
	notificationv1.UnimplementedNotificationServiceServer
	svc *Service
}

// caller verifies the request's client token and returns its client id,
// which scopes every notification and template to the ministry that made
// it.
func (g *grpcServer) caller(ctx context.Context, need string) (string, error) {
	claims, err := authn.Verify(ctx, g.svc.verifier, g.svc.log)
	if err != nil {
		return "", err
	}
	if !claims.IsClient() {
		return "", rpcerr.PermissionDenied("notifications are sent by ministry clients, not citizens")
	}
	if err := authn.RequireScope(claims, need); err != nil {
		return "", err
	}
	return claims.ClientID, nil
}

// toStatus maps domain errors to gRPC statuses in one place.
func (g *grpcServer) toStatus(ctx context.Context, err error) error {
	var (
		le *LimitError
		be *BulkErrors
	)
	switch {
	case errors.As(err, &le):
		return rpcerr.ResourceExhausted(le.Error(), le.RetryAfter)
	case errors.As(err, &be):
		// One field violation per bad row, and the count of bad rows.
		return rpcerr.New(codes.InvalidArgument, rpcerr.ReasonInvalidArgument, be.Error()).
			Meta("invalid_rows", strconv.Itoa(be.Total)).
			Fields(bulkViolations(be)...).Err()
	case errors.Is(err, ErrBadSignature):
		return rpcerr.Unauthenticated("the receipt's signature does not verify")
	}
	return rpcerr.FromDomain(err, g.svc.log, ctx)
}

// bulkViolations names each bad row's field "rows[N].<field>" (N as
// BulkRowError.Row counts), or "rows[N]" when no one field is to blame.
func bulkViolations(be *BulkErrors) []rpcerr.FieldError {
	out := make([]rpcerr.FieldError, 0, len(be.Rows))
	for _, r := range be.Rows {
		f := "rows[" + strconv.Itoa(r.Row) + "]"
		if r.Field != "" {
			f += "." + r.Field
		}
		out = append(out, rpcerr.FieldError{Field: f, Reason: r.Reason})
	}
	return out
}

func (g *grpcServer) send(ctx context.Context, in SendInput) (*notificationv1.Notification, error) {
	client, err := g.caller(ctx, scope.NotificationsSend)
	if err != nil {
		return nil, err
	}
	n, err := g.svc.Send(ctx, client, in)
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return toProto(n), nil
}

// SendSms queues one SMS of the caller.
func (g *grpcServer) SendSms(ctx context.Context, req *notificationv1.SendSmsRequest) (*notificationv1.Notification, error) {
	return g.send(ctx, SendInput{Channel: ChannelSMS, Recipient: req.GetPhoneNumber(), TemplateID: req.GetTemplateId(),
		Personalisation: req.GetPersonalisation(), Reference: req.GetReference(), Priority: req.GetPriority()})
}

// SendEmail queues one e-mail of the caller.
func (g *grpcServer) SendEmail(ctx context.Context, req *notificationv1.SendEmailRequest) (*notificationv1.Notification, error) {
	return g.send(ctx, SendInput{Channel: ChannelEmail, Recipient: req.GetEmailAddress(), TemplateID: req.GetTemplateId(),
		Personalisation: req.GetPersonalisation(), Reference: req.GetReference(), Priority: req.GetPriority()})
}

// GetNotification returns one of the caller's notifications.
func (g *grpcServer) GetNotification(ctx context.Context, req *notificationv1.GetNotificationRequest) (*notificationv1.Notification, error) {
	client, err := g.caller(ctx, scope.NotificationsRead)
	if err != nil {
		return nil, err
	}
	n, err := g.svc.GetNotification(ctx, client, req.GetId())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return toProto(n), nil
}

// ListNotifications lists the caller's notifications, newest first.
func (g *grpcServer) ListNotifications(ctx context.Context, req *notificationv1.ListNotificationsRequest) (*notificationv1.ListNotificationsResponse, error) {
	client, err := g.caller(ctx, scope.NotificationsRead)
	if err != nil {
		return nil, err
	}
	ns, next, err := g.svc.ListNotifications(ctx, client, ListFilter{Reference: req.GetReference(), Status: req.GetStatus(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	resp := &notificationv1.ListNotificationsResponse{NextPageToken: next}
	for _, n := range ns {
		resp.Notifications = append(resp.Notifications, toProto(n))
	}
	return resp, nil
}

// CreateBulkJob validates and queues a bulk send.
func (g *grpcServer) CreateBulkJob(ctx context.Context, req *notificationv1.CreateBulkJobRequest) (*notificationv1.BulkJob, error) {
	client, err := g.caller(ctx, scope.NotificationsSend)
	if err != nil {
		return nil, err
	}
	in := BulkInput{TemplateID: req.GetTemplateId(), Channel: req.GetChannel(), CSV: req.GetCsv(), Reference: req.GetReference()}
	for _, r := range req.GetRecipients() {
		in.Rows = append(in.Rows, BulkRow{Recipient: r.GetRecipient(), Personalisation: r.GetPersonalisation(), Reference: r.GetReference()})
	}
	j, err := g.svc.CreateBulkJob(ctx, client, in)
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return bulkToProto(j), nil
}

// GetBulkJob returns a bulk job's progress.
func (g *grpcServer) GetBulkJob(ctx context.Context, req *notificationv1.GetBulkJobRequest) (*notificationv1.BulkJob, error) {
	client, err := g.caller(ctx, scope.NotificationsRead)
	if err != nil {
		return nil, err
	}
	j, err := g.svc.GetBulkJob(ctx, client, req.GetId())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return bulkToProto(j), nil
}

// CreateTemplate creates version 1 of a template of the caller.
func (g *grpcServer) CreateTemplate(ctx context.Context, req *notificationv1.CreateTemplateRequest) (*notificationv1.Template, error) {
	client, err := g.caller(ctx, scope.TemplatesWrite)
	if err != nil {
		return nil, err
	}
	t, err := g.svc.CreateTemplate(ctx, client, TemplateInput{Name: req.GetName(), Channel: req.GetChannel(),
		Language: req.GetLanguage(), Subject: req.GetSubject(), Body: req.GetBody()})
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return templateToProto(t), nil
}

// UpdateTemplate saves a new version.
func (g *grpcServer) UpdateTemplate(ctx context.Context, req *notificationv1.UpdateTemplateRequest) (*notificationv1.Template, error) {
	client, err := g.caller(ctx, scope.TemplatesWrite)
	if err != nil {
		return nil, err
	}
	t, err := g.svc.UpdateTemplate(ctx, client, req.GetId(), int(req.GetBaseVersion()), req.GetName(), req.GetSubject(), req.GetBody())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return templateToProto(t), nil
}

// GetTemplate returns the latest or a given version.
func (g *grpcServer) GetTemplate(ctx context.Context, req *notificationv1.GetTemplateRequest) (*notificationv1.Template, error) {
	client, err := g.caller(ctx, scope.TemplatesRead)
	if err != nil {
		return nil, err
	}
	t, err := g.svc.GetTemplate(ctx, client, req.GetId(), int(req.GetVersion()))
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return templateToProto(t), nil
}

// ListTemplates lists the caller's templates (latest versions).
func (g *grpcServer) ListTemplates(ctx context.Context, req *notificationv1.ListTemplatesRequest) (*notificationv1.ListTemplatesResponse, error) {
	client, err := g.caller(ctx, scope.TemplatesRead)
	if err != nil {
		return nil, err
	}
	ts, next, err := g.svc.ListTemplates(ctx, client, req.GetChannel(), req.GetLanguage(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	resp := &notificationv1.ListTemplatesResponse{NextPageToken: next}
	for _, t := range ts {
		resp.Templates = append(resp.Templates, templateToProto(t))
	}
	return resp, nil
}

// PreviewTemplate renders a template and counts SMS segments.
func (g *grpcServer) PreviewTemplate(ctx context.Context, req *notificationv1.PreviewTemplateRequest) (*notificationv1.PreviewTemplateResponse, error) {
	client, err := g.caller(ctx, scope.TemplatesRead)
	if err != nil {
		return nil, err
	}
	r, err := g.svc.PreviewTemplate(ctx, client, req.GetId(), req.GetPersonalisation())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &notificationv1.PreviewTemplateResponse{Subject: r.Subject, Body: r.Text, Html: r.HTML,
		Segments: int32(r.Length.Segments), Encoding: string(r.Length.Encoding)}, nil
}

// ReceiveDeliveryReceipt takes an HTTP SMS provider's signed receipt.
func (g *grpcServer) ReceiveDeliveryReceipt(ctx context.Context, req *notificationv1.ReceiveDeliveryReceiptRequest) (*notificationv1.ReceiveDeliveryReceiptResponse, error) {
	if err := g.svc.ReceiveHTTPReceipt(ctx, req.GetProvider(), req.GetPayload(), req.GetSignature()); err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &notificationv1.ReceiveDeliveryReceiptResponse{}, nil
}

// ts maps a zero time to nil.
func ts(t interface{ IsZero() bool }, f func() *timestamppb.Timestamp) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return f()
}

func toProto(n Notification) *notificationv1.Notification {
	body := n.Body
	if n.Channel == ChannelEmail {
		body = n.Subject
	}
	return &notificationv1.Notification{
		Id: n.ID, Channel: n.Channel, Status: n.Status, Reference: n.Reference, TemplateId: n.TemplateID,
		TemplateVersion: int32(n.TemplateVersion), Recipient: n.Recipient, Body: body, Segments: int32(n.Segments),
		Encoding: string(n.Encoding), Provider: n.Provider,
		CreateTime:   timestamppb.New(n.CreatedAt),
		SentTime:     ts(n.SentAt, func() *timestamppb.Timestamp { return timestamppb.New(n.SentAt) }),
		CompleteTime: ts(n.CompletedAt, func() *timestamppb.Timestamp { return timestamppb.New(n.CompletedAt) }),
	}
}

func bulkToProto(j BulkJob) *notificationv1.BulkJob {
	return &notificationv1.BulkJob{Id: j.ID, Status: j.Status(), Total: int32(j.Total), Queued: int32(j.Queued),
		Sent: int32(j.Sent), Failed: int32(j.Failed), CreateTime: timestamppb.New(j.CreatedAt), Reference: j.Reference}
}

func templateToProto(t ClientTemplate) *notificationv1.Template {
	return &notificationv1.Template{Id: t.ID, Name: t.Name, Channel: t.Channel, Language: t.Language, Subject: t.Subject,
		Body: t.Body, Version: int32(t.Version), CreateTime: timestamppb.New(t.CreatedAt), UpdateTime: timestamppb.New(t.UpdatedAt)}
}
