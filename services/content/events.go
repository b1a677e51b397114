package content

import (
	"context"
	"database/sql"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Events the content enabler publishes through its outbox, for portals'
// and CDNs' caches.
const (
	// SubjectPublished carries eventsv1.ContentPublished.
	SubjectPublished = "tamkeen.content.published"
	// SubjectUnpublished carries eventsv1.ContentUnpublished (unpublished,
	// expired or archived).
	SubjectUnpublished = "tamkeen.content.unpublished"
	// TypePublished and TypeUnpublished are the events' ce-type.
	TypePublished   = "tamkeen.content.published.v1"
	TypeUnpublished = "tamkeen.content.unpublished.v1"
)

func (s *Service) enqueuePublished(ctx context.Context, tx *sql.Tx, it Item, at time.Time) error {
	ev, err := s.Events.New(TypePublished, &eventsv1.ContentPublished{
		ItemId: it.ID, Ministry: it.Ministry, Type: string(it.Type), Version: int32(it.Version),
		Slugs: it.slugs(), Time: timestamppb.New(at),
	})
	if err != nil {
		return err
	}
	ev.Subject = it.ID
	return events.Enqueue(ctx, tx, SubjectPublished, ev)
}

func (s *Service) enqueueUnpublished(ctx context.Context, tx *sql.Tx, it Item, at time.Time) error {
	ev, err := s.Events.New(TypeUnpublished, &eventsv1.ContentUnpublished{
		ItemId: it.ID, Ministry: it.Ministry, Time: timestamppb.New(at),
	})
	if err != nil {
		return err
	}
	ev.Subject = it.ID
	return events.Enqueue(ctx, tx, SubjectUnpublished, ev)
}
