// Package events carries Tamkeen's domain events over NATS JetStream: a Bus
// that publishes and consumes CloudEvents, a transactional outbox with a
// relay that moves committed events to JetStream, and ProcessOnce for
// idempotent consumers. Together they give "nothing lost, nothing applied
// twice" across NATS and service restarts (DESIGN.md section 4).
//
// # Wire format
//
// Subjects are "tamkeen.<service>.<event>" (see Subject); each producing
// service owns one stream over "tamkeen.<service>.>". Messages use
// CloudEvents binary content mode: the attributes travel as the NATS headers
// ce-specversion (1.0), ce-id, ce-type, ce-source, ce-time (RFC 3339),
// ce-subject (optional) and content-type (application/protobuf), the payload
// is the message body, and Nats-Msg-Id equals ce-id so that JetStream stores
// an event once however often it is published within the stream's
// Duplicates window. W3C trace context (traceparent, tracestate) is injected
// on publish and extracted into the handler's context on consume.
//
// # Producing: the outbox
//
// A service never publishes from inside a use case. It writes the state
// change and the event in one transaction, and a Relay publishes later:
//
//	ev, err := factory.New("tamkeen.payment.succeeded.v1", &eventsv1.PaymentSucceeded{...})
//	err = db.InTx(ctx, func(tx *sql.Tx) error {
//		if _, err := tx.ExecContext(ctx, `UPDATE payments SET state = 'succeeded' WHERE id = $1`, id); err != nil {
//			return err
//		}
//		return events.Enqueue(ctx, tx, events.Subject("payment", "succeeded"), ev)
//	})
//	if err == nil {
//		relay.Kick() // publish now rather than at the next poll
//	}
//
// Wiring, once per service (Migrations next to the service's own):
//
//	db.Migrate(ctx, paymentMigrations, events.Migrations)
//	bus, _ := events.NewBus(nc, events.BusOptions{Logger: log, TracerProvider: tp})
//	bus.EnsureStream(ctx, events.StreamConfig{Name: "PAYMENT", Subjects: []string{"tamkeen.payment.>"}, Replicas: 3})
//	relay := events.NewRelay(db, bus, events.RelayOptions{Logger: log})
//	go relay.Run(ctx)
//
// Each replica runs a relay. A relay claims a batch of rows under a lease in
// a short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite
// transactions take the write lock at BEGIN), publishes without holding any
// lock, then marks the rows published. A relay that dies mid-batch leaves
// its rows to others once the lease (30 s by default) ends; the copies it
// may already have published are dropped by Nats-Msg-Id, which is why the
// stream's Duplicates window (2 minutes by default) must exceed the lease.
// Publish failures are retried with back-off forever; rows are never
// dropped. Prune old published rows with PrunePublished.
//
// # Consuming: idempotent handlers
//
// JetStream delivers at least once, so a handler records what it applied
// in the same transaction as its effects:
//
//	stop, err := bus.Consume(ctx, events.ConsumerConfig{Stream: "PAYMENT", Durable: "notification-receipts",
//		FilterSubjects: []string{"tamkeen.payment.succeeded"}},
//		func(ctx context.Context, ev events.Event) error {
//			var m eventsv1.PaymentSucceeded
//			if err := ev.UnmarshalData(&m); err != nil {
//				return events.Permanent(err) // redelivery cannot fix it
//			}
//			_, err := events.ProcessOnce(ctx, db, "notification-receipts", ev.ID, func(tx *sql.Tx) error {
//				return queueReceipt(ctx, tx, &m)
//			})
//			return err // non-nil: redelivered after a back-off
//		})
//
// Messages that are not well-formed CloudEvents are terminated and logged
// (without their payload), never redelivered, and never reach the handler.
//
// # Secrets in events
//
// Streams that carry secrets such as OTP codes should have a MaxAge of
// minutes and run on a server with JetStream encryption at rest: in a NATS
// server configuration, `jetstream { cipher: chachapoly, key: $JS_KEY }`
// with the key from a secret; for the embedded server, set
// natsembed.Options.EncryptionKey.
package events
