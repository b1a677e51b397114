package notification

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// meter adds n to its client's usage of the day it was accepted by a
// provider: one message and its segments, by channel and destination
// country. It runs in the transaction that records the acceptance, so a
// message is counted exactly once.
func meter(ctx context.Context, tx *sql.Tx, n Notification) error {
	day := n.SentAt.UTC().Format(time.DateOnly)
	segments := 0
	if n.Channel == ChannelSMS {
		segments = n.Segments
	}
	err := addUsage(ctx, tx, n.ID, n.ClientID, day, n.Channel, n.Country, segments)
	if err != nil {
		return fmt.Errorf("meter %s: %w", n.ID, err)
	}
	return nil
}

// Usage is one client's use of one channel on one UTC day to one country:
// the basis of charge-back.
type Usage struct {
	ClientID string
	Day      string
	Channel  string
	// Country is the destination's calling code ("" for e-mail).
	Country  string
	Messages int
	Segments int
}

// Usage returns the metering rows of clientID (all clients when empty)
// for the UTC days from..to inclusive ("2006-01-02").
func (s *Service) Usage(ctx context.Context, clientID, from, to string) ([]Usage, error) {
	return usageRows(ctx, s.DB, clientID, from, to)
}
