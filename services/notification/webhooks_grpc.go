package notification

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/scope"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// The webhook RPCs of NotificationService (webhooks.proto); every one
// needs webhooks:manage and acts on the calling client's endpoints only.

// CreateWebhookEndpoint registers an endpoint; the answer carries its
// secret, this once.
func (g *grpcServer) CreateWebhookEndpoint(ctx context.Context, req *notificationv1.CreateWebhookEndpointRequest) (*notificationv1.WebhookEndpoint, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) (WebhookEndpoint, error) {
		return g.svc.CreateWebhookEndpoint(ctx, client, req.GetUrl(), req.GetEvents())
	}, endpointToProto)
}

// ListWebhookEndpoints lists the caller's endpoints.
func (g *grpcServer) ListWebhookEndpoints(ctx context.Context, _ *notificationv1.ListWebhookEndpointsRequest) (*notificationv1.ListWebhookEndpointsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) ([]WebhookEndpoint, error) {
		return g.svc.ListWebhookEndpoints(ctx, client)
	}, func(es []WebhookEndpoint) *notificationv1.ListWebhookEndpointsResponse {
		return &notificationv1.ListWebhookEndpointsResponse{WebhookEndpoints: grpcserver.Convert(es, endpointToProto)}
	})
}

// GetWebhookEndpoint returns one of the caller's endpoints.
func (g *grpcServer) GetWebhookEndpoint(ctx context.Context, req *notificationv1.GetWebhookEndpointRequest) (*notificationv1.WebhookEndpoint, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) (WebhookEndpoint, error) {
		return g.svc.GetWebhookEndpoint(ctx, client, req.GetId())
	}, endpointToProto)
}

// DeleteWebhookEndpoint deletes one of the caller's endpoints.
func (g *grpcServer) DeleteWebhookEndpoint(ctx context.Context, req *notificationv1.DeleteWebhookEndpointRequest) (*notificationv1.DeleteWebhookEndpointResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) (struct{}, error) {
		return struct{}{}, g.svc.DeleteWebhookEndpoint(ctx, client, req.GetId())
	}, func(struct{}) *notificationv1.DeleteWebhookEndpointResponse {
		return &notificationv1.DeleteWebhookEndpointResponse{}
	})
}

// RotateWebhookSecret gives an endpoint a new secret, returned this once.
func (g *grpcServer) RotateWebhookSecret(ctx context.Context, req *notificationv1.RotateWebhookSecretRequest) (*notificationv1.WebhookEndpoint, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) (WebhookEndpoint, error) {
		return g.svc.RotateWebhookSecret(ctx, client, req.GetId())
	}, endpointToProto)
}

// ListWebhookDeliveries pages through an endpoint's delivery log.
func (g *grpcServer) ListWebhookDeliveries(ctx context.Context, req *notificationv1.ListWebhookDeliveriesRequest) (*notificationv1.ListWebhookDeliveriesResponse, error) {
	return grpcserver.List(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) ([]WebhookDelivery, string, error) {
		return g.svc.ListWebhookDeliveries(ctx, client, req.GetEndpointId(), int(req.GetPageSize()), req.GetPageToken())
	}, func(ds []WebhookDelivery, next string) *notificationv1.ListWebhookDeliveriesResponse {
		return &notificationv1.ListWebhookDeliveriesResponse{Deliveries: grpcserver.Convert(ds, deliveryToProto), NextPageToken: next}
	})
}

// ReplayWebhookDelivery sends a logged delivery's event again.
func (g *grpcServer) ReplayWebhookDelivery(ctx context.Context, req *notificationv1.ReplayWebhookDeliveryRequest) (*notificationv1.WebhookDelivery, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.WebhooksManage), func(client string) (WebhookDelivery, error) {
		return g.svc.ReplayWebhookDelivery(ctx, client, req.GetEndpointId(), req.GetId())
	}, deliveryToProto)
}

// optionalTime is t, or nil when t is zero.
func optionalTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func endpointToProto(e WebhookEndpoint) *notificationv1.WebhookEndpoint {
	return &notificationv1.WebhookEndpoint{Id: e.ID, Url: e.URL, Events: e.Events, Secret: e.Secret,
		CreateTime: timestamppb.New(e.CreatedAt), SecretRotateTime: optionalTime(e.RotatedAt),
		PreviousSecretExpireTime: optionalTime(e.PreviousExpiresAt)}
}

func deliveryToProto(d WebhookDelivery) *notificationv1.WebhookDelivery {
	out := &notificationv1.WebhookDelivery{Id: d.ID, EndpointId: d.EndpointID, EventId: d.EventID, EventType: d.EventType,
		State: d.State, AttemptCount: int32(d.AttemptCount), ReplayOf: d.ReplayOf, CreateTime: timestamppb.New(d.CreatedAt)}
	if d.State == deliveryPending {
		out.NextAttemptTime = timestamppb.New(d.NextAt)
	}
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, &notificationv1.WebhookAttempt{Time: timestamppb.New(a.Time), StatusCode: int32(a.StatusCode), Error: a.Error})
	}
	return out
}
