package notification

import (
	"context"
	"errors"
	"io"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
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

// as returns the who of an RPC that needs scope need: the calling client's
// id, which scopes every notification and template to the ministry that
// made it.
func (g *grpcServer) as(need string) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		claims, err := authn.Verify(ctx, g.svc.verifier, g.svc.Logger)
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
	if st := rpcerr.Map(err, statusRules); st != nil {
		return st
	}
	return rpcerr.FromDomain(err, g.svc.Logger, ctx)
}

// statusRules are the notification sentinels that FromDomain does not
// know: a reused Idempotency-Key answers as payments do (422 at the
// gateway).
var statusRules = []rpcerr.Rule{
	{Err: ErrIdempotencyMismatch, Code: codes.InvalidArgument, Reason: ReasonIdempotencyKeyReused, Field: "idempotency_key", FieldCode: "idempotency_key.reused"},
}

// bulkViolations names each bad row's field "rows[N].<field>" (N as
// BulkRowError.Row counts), or "rows[N]" when no one field is to blame;
// the code is the row's own under "rows." ("rows.phone_number.e164").
func bulkViolations(be *BulkErrors) []rpcerr.FieldError {
	out := make([]rpcerr.FieldError, 0, len(be.Rows))
	for _, r := range be.Rows {
		f := "rows[" + strconv.Itoa(r.Row) + "]"
		if r.Field != "" {
			f += "." + r.Field
		}
		out = append(out, rpcerr.FieldError{Field: f, Reason: r.Reason, Code: "rows." + r.Code, Args: r.Args})
	}
	return out
}

func (g *grpcServer) send(ctx context.Context, in SendInput) (*notificationv1.Notification, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsSend), func(client string) (Notification, error) {
		return g.svc.Send(ctx, client, in)
	}, toProto)
}

// SendSms queues one SMS of the caller.
func (g *grpcServer) SendSms(ctx context.Context, req *notificationv1.SendSmsRequest) (*notificationv1.Notification, error) {
	return g.send(ctx, SendInput{Channel: ChannelSMS, Recipient: req.GetPhoneNumber(), TemplateID: req.GetTemplateId(),
		Personalisation: req.GetPersonalisation(), Reference: req.GetReference(), Priority: req.GetPriority(),
		IdempotencyKey: req.GetIdempotencyKey()})
}

// SendEmail queues one e-mail of the caller.
func (g *grpcServer) SendEmail(ctx context.Context, req *notificationv1.SendEmailRequest) (*notificationv1.Notification, error) {
	return g.send(ctx, SendInput{Channel: ChannelEmail, Recipient: req.GetEmailAddress(), TemplateID: req.GetTemplateId(),
		Personalisation: req.GetPersonalisation(), Reference: req.GetReference(), Priority: req.GetPriority(),
		IdempotencyKey: req.GetIdempotencyKey()})
}

// GetNotification returns one of the caller's notifications.
func (g *grpcServer) GetNotification(ctx context.Context, req *notificationv1.GetNotificationRequest) (*notificationv1.Notification, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsRead), func(client string) (Notification, error) {
		return g.svc.GetNotification(ctx, client, req.GetId())
	}, toProto)
}

// ListNotifications lists the caller's notifications, newest first.
func (g *grpcServer) ListNotifications(ctx context.Context, req *notificationv1.ListNotificationsRequest) (*notificationv1.ListNotificationsResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.as(scope.NotificationsRead), func(client string) ([]Notification, string, error) {
		return g.svc.ListNotifications(ctx, client, ListFilter{Reference: req.GetReference(), Status: req.GetStatus(),
			PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	}, func(ns []Notification, next string) *notificationv1.ListNotificationsResponse {
		return &notificationv1.ListNotificationsResponse{Notifications: grpcserver.Convert(ns, toProto), NextPageToken: next}
	})
}

// CreateBulkJob validates and queues a bulk send.
func (g *grpcServer) CreateBulkJob(ctx context.Context, req *notificationv1.CreateBulkJobRequest) (*notificationv1.BulkJob, error) {
	in := BulkInput{TemplateID: req.GetTemplateId(), Channel: req.GetChannel(), CSV: req.GetCsv(), Reference: req.GetReference(),
		IdempotencyKey: req.GetIdempotencyKey()}
	for _, r := range req.GetRecipients() {
		in.Rows = append(in.Rows, BulkRow{Recipient: r.GetRecipient(), Personalisation: r.GetPersonalisation(), Reference: r.GetReference()})
	}
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsSend), func(client string) (BulkJob, error) {
		return g.svc.CreateBulkJob(ctx, client, in)
	}, bulkToProto)
}

// UploadBulkJob reads a streamed CSV into a new bulk job of the caller:
// the first message names the job, and every message's chunk is read as
// it comes, never gathered.
func (g *grpcServer) UploadBulkJob(stream grpc.ClientStreamingServer[notificationv1.UploadBulkJobRequest, notificationv1.BulkJob]) error {
	ctx := stream.Context()
	job, err := grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsSend), func(client string) (BulkJob, error) {
		first, err := stream.Recv()
		if err != nil && !errors.Is(err, io.EOF) {
			return BulkJob{}, err
		}
		in := BulkUpload{TemplateID: first.GetTemplateId(), Channel: first.GetChannel(), Reference: first.GetReference(),
			IdempotencyKey: first.GetIdempotencyKey()}
		body := &chunkReader{recv: stream.Recv, buf: first.GetChunk(), eof: errors.Is(err, io.EOF)}
		return g.svc.UploadBulkJob(ctx, client, in, body)
	}, bulkToProto)
	if err != nil {
		return err
	}
	return stream.SendAndClose(job)
}

// chunkReader reads the chunks of a streamed upload as one body.
type chunkReader struct {
	recv func() (*notificationv1.UploadBulkJobRequest, error)
	buf  []byte
	eof  bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		m, err := c.recv()
		if errors.Is(err, io.EOF) {
			c.eof = true
			continue
		}
		if err != nil {
			return 0, err
		}
		c.buf = m.GetChunk()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// ListBulkJobErrors pages through a bulk job's refused rows.
func (g *grpcServer) ListBulkJobErrors(ctx context.Context, req *notificationv1.ListBulkJobErrorsRequest) (*notificationv1.ListBulkJobErrorsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsRead), func(client string) (BulkErrorPage, error) {
		return g.svc.ListBulkJobErrors(ctx, client, req.GetId(), req.GetPageToken(), int(req.GetPageSize()))
	}, func(p BulkErrorPage) *notificationv1.ListBulkJobErrorsResponse {
		out := &notificationv1.ListBulkJobErrorsResponse{NextPageToken: p.NextPageToken, TotalInvalid: int32(p.Total), Omitted: int32(p.Omitted)}
		for _, e := range p.Rows {
			out.Errors = append(out.Errors, &notificationv1.BulkRowError{Row: int32(e.Row), Field: e.Field, Code: e.Code, Reason: e.Reason})
		}
		return out
	})
}

// GetBulkJob returns a bulk job's progress.
func (g *grpcServer) GetBulkJob(ctx context.Context, req *notificationv1.GetBulkJobRequest) (*notificationv1.BulkJob, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.NotificationsRead), func(client string) (BulkJob, error) {
		return g.svc.GetBulkJob(ctx, client, req.GetId())
	}, bulkToProto)
}

// CreateTemplate creates version 1 of a template of the caller.
func (g *grpcServer) CreateTemplate(ctx context.Context, req *notificationv1.CreateTemplateRequest) (*notificationv1.Template, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.TemplatesWrite), func(client string) (ClientTemplate, error) {
		return g.svc.CreateTemplate(ctx, client, TemplateInput{Name: req.GetName(), Channel: req.GetChannel(),
			Language: req.GetLanguage(), Subject: req.GetSubject(), Body: req.GetBody()})
	}, templateToProto)
}

// UpdateTemplate saves a new version.
func (g *grpcServer) UpdateTemplate(ctx context.Context, req *notificationv1.UpdateTemplateRequest) (*notificationv1.Template, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.TemplatesWrite), func(client string) (ClientTemplate, error) {
		return g.svc.UpdateTemplate(ctx, client, req.GetId(), int(req.GetBaseVersion()), req.GetName(), req.GetSubject(), req.GetBody())
	}, templateToProto)
}

// GetTemplate returns the latest or a given version.
func (g *grpcServer) GetTemplate(ctx context.Context, req *notificationv1.GetTemplateRequest) (*notificationv1.Template, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.TemplatesRead), func(client string) (ClientTemplate, error) {
		return g.svc.GetTemplate(ctx, client, req.GetId(), int(req.GetVersion()))
	}, templateToProto)
}

// ListTemplates lists the caller's templates (latest versions).
func (g *grpcServer) ListTemplates(ctx context.Context, req *notificationv1.ListTemplatesRequest) (*notificationv1.ListTemplatesResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.as(scope.TemplatesRead), func(client string) ([]ClientTemplate, string, error) {
		return g.svc.ListTemplates(ctx, client, req.GetChannel(), req.GetLanguage(), int(req.GetPageSize()), req.GetPageToken())
	}, func(ts []ClientTemplate, next string) *notificationv1.ListTemplatesResponse {
		return &notificationv1.ListTemplatesResponse{Templates: grpcserver.Convert(ts, templateToProto), NextPageToken: next}
	})
}

// PreviewTemplate renders a template and counts SMS segments.
func (g *grpcServer) PreviewTemplate(ctx context.Context, req *notificationv1.PreviewTemplateRequest) (*notificationv1.PreviewTemplateResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.TemplatesRead), func(client string) (Rendered, error) {
		return g.svc.PreviewTemplate(ctx, client, req.GetId(), req.GetPersonalisation())
	}, func(r Rendered) *notificationv1.PreviewTemplateResponse {
		return &notificationv1.PreviewTemplateResponse{Subject: r.Subject, Body: r.Text, Html: r.HTML,
			Segments: int32(r.Length.Segments), Encoding: string(r.Length.Encoding)}
	})
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
		Sent: int32(j.Sent), Failed: int32(j.Failed), CreateTime: timestamppb.New(j.CreatedAt), Reference: j.Reference,
		Validated: int32(j.Validated), Invalid: int32(j.Invalid), Submitted: int32(j.Submitted), Delivered: int32(j.Delivered)}
}

func templateToProto(t ClientTemplate) *notificationv1.Template {
	return &notificationv1.Template{Id: t.ID, Name: t.Name, Channel: t.Channel, Language: t.Language, Subject: t.Subject,
		Body: t.Body, Version: int32(t.Version), CreateTime: timestamppb.New(t.CreatedAt), UpdateTime: timestamppb.New(t.UpdatedAt)}
}
