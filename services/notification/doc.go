// Package notification is Tamkeen's SMS and e-mail enabler: templates per ministry, channel and language, priority lanes so an OTP never waits behind a campaign, SMPP, HTTP and SMTP providers, delivery status and bulk sends.
//
// The package follows the shape every enabler has: Config and Deps go into
// New; the Service registers its gRPC API with Register and runs its
// own background work (consumers, schedulers) with Run, beside which
// libs/host declares its stream and runs its outbox relay;
// cmd/notification/main.go only loads configuration and wires. `tamkeen dev`
// composes the same Spec in one process
// (host.Compose).
//
// # Files
//
//   - config.go: Config (DefaultConfig, Validate, Stream).
//   - service.go: Deps, New, Migrations, Register and Run (lanes, receipts,
//     callbacks).
//   - hosting.go: Spec, how libs/host and `tamkeen dev` run the service.
//   - sms.go: GSM 03.38 / UCS-2 detection, segment counting and splitting
//     (domain, no I/O).
//   - template.go: built-in templates and the ((placeholder)) renderer.
//   - provider.go: the SMSProvider interface and the dev inbox provider.
//   - lane.go: the command lanes' consumers and the send state machine.
//   - api.go, bulk.go, templatestore.go, grpc.go: the client API (sends,
//     bulk jobs, templates with versions and preview), scoped by the
//     client_id of the verified client token; grpc.go maps errors.
//   - idempotency.go: Idempotency-Keys on sends and
//     bulk jobs (libs/store's IdempotencyKey, as payment: same key and request → the same
//     notification or job for Config.IdempotencyTTL; the key with another
//     request → IDEMPOTENCY_KEY_REUSED, 422 at the gateway).
//   - smpp.go (SMPP 3.4), httpsms.go (HTTP SMS + signed receipts),
//     smtp.go (e-mail): the providers; receipt.go: receipts → statuses.
//   - receipts.go: the payment receipt sent on tamkeen.payment.succeeded.
//   - limits.go (429 with Retry-After, counters per window; see Limits),
//     callbacks.go (signed status
//     callbacks, retried), metering.go (usage per client per day).
//   - webhooks.go, webhooks_grpc.go: outbound webhooks to the endpoints a
//     client registers; delivery.go: the one delivery loop of callbacks
//     and webhooks (claim a due row, POST it signed, retry or settle).
//   - store.go (notifications), store_templates.go, store_bulk.go,
//     store_callbacks.go, store_webhooks.go, store_deliveries.go,
//     store_limits.go (limit counters and metering),
//     store_receipts.go, store_devinbox.go: every SQL statement, as small
//     functions taking a store.Querier; migrations/notification: the
//     tables. A bulk job's progress and a client's daily usage are
//     counters that every message's transition adds to, so each is spread
//     over 16 shard rows picked by the message id (counterShard, migration
//     0008) and read as their sum: on PostgreSQL one row would make a
//     job's workers wait for each other's row locks.
//   - devinbox.go, migrations/devinbox: the dev inbox (dev mode only).
//   - events: it has no events.go; lane.go enqueues the status events and
//     api.go the lane commands, each with its change.
//   - cmd/notification/main.go: loads configuration and runs Spec.
//
// # Normal and bulk lanes
//
// The API writes a message's row and its command (a SendSms or SendEmail
// carrying only the row's id) in one transaction; the outbox relays the
// command to tamkeen.notification.cmd.<normal|bulk>.<sms|email> in the
// work-queue stream NOTIFICATION_QUEUE (MaxAge 72 h), consumed by
// "notification-normal" and "notification-bulk". OTPs keep their own
// stream (NOTIFICATION_COMMANDS, cmd.otp.>, 15 minutes) and consumer, so
// a campaign never delays a code. A temporary provider error is retried
// with back-off (Config.RetryBase doubling) up to Config.MaxAttempts, then
// technical-failure. Statuses: created, sending, delivered,
// permanent-failure, temporary-failure, technical-failure (cancelled is
// reserved). Every change is announced on tamkeen.notification.
// status_changed, final ones also on tamkeen.notification.delivered or
// .failed, and POSTed to the client's callback URL when it has one.
//
// # The OTP lane
//
// The auth enabler publishes eventsv1.SendSms commands (template
// "tamkeen:otp", personalisation {"code": "…"}) through its outbox on
// SubjectOTPSMS, in the work-queue stream NOTIFICATION_COMMANDS (MaxAge 15
// minutes, so codes do not linger). The durable consumer "notification-otp"
// reads only tamkeen.notification.cmd.otp.>, so an OTP never waits behind
// the normal and bulk lanes. With Config.SMSProvider "none" nothing consumes
// it and commands wait, up to the stream's MaxAge, for a provider.
//
// For each command the handler:
//
//  1. decodes and validates it (a mobile by libs/phone's rule, known template and language,
//     every placeholder given, at most 10 segments); a bad command is
//     terminated (events.Permanent) and logged by field name only;
//  2. in one transaction, via events.ProcessOnce keyed by the command's
//     event id, writes a notifications row (status created, or
//     technical-failure/expired when the command's expire time has passed,
//     in which case nothing is sent) and a NotificationStatusChanged event
//     to the outbox. The row's body has the code redacted: the code exists
//     only in the command stream and in memory while sending;
//  3. claims the send (submission none → in_flight, status sending, one
//     more attempt) in a committed transaction, calls the provider, then
//     records the outcome (in_flight → accepted with the provider's id;
//     status delivered for the dev inbox, sending until a receipt for real
//     providers), each status change with its event. Through a provider
//     that deduplicates by reference the claim needs no commit of its own
//     (sending again after a crash is safe): it is written with the
//     outcome, so a send is one commit (an attempt cut by a crash is
//     then not counted; the message's expiry and the consumer's
//     MaxDeliver still end the retries). A delivery receipt is stored and
//     settles its notification in one commit.
//
// An SMS the API accepts thus makes three commits to delivered through
// the HTTP gateway (accept with its idempotency key, limit counters and
// outbox; sent; receipt and delivered) and four through SMPP, whose
// in_flight claim is committed before submit_sm (when the receipt comes
// after the id is recorded; one that comes first waits in its own
// commit); the status history and its events are the same as when each
// state had its own commit.
//
// A temporary provider error releases the claim and the command is
// redelivered with a short back-off (1, 2, 4, 8, 15 s) until it succeeds,
// expires, or uses its 5 attempts (technical-failure). A permanent one
// (ErrPermanentSend) ends in permanent-failure.
//
// Redelivery and the send window: a redelivered command finds its row and
// does only what is left. If it finds the claim in_flight, the process died
// (or lost the database) between handing the message to the provider and
// recording the outcome, and nobody knows whether it went out. Through a
// provider that deduplicates by SMS.Reference (IdempotentSMSProvider; the
// dev inbox does, and the HTTP provider, whose calls carry the reference
// as their Idempotency-Key) it sends again, which is safe; so does a
// submit through such a provider that failed with ErrOutcomeUnknown (the
// HTTP connection cut after the request went out, or its answer timed
// out). Through any other it does not send again and records
// technical-failure/outcome-unknown: for a one-time code a duplicate SMS
// costs money and confuses the citizen, while a lost one costs a resend,
// which auth offers. So the lane is at most once inside that window. An error returned by SendSMS is taken to mean the
// message was not accepted and is retried; a provider that cannot know
// (a connection lost after submit_sm, before its response) is the window
// issue 4's SMPP provider documents. Logs name notification and event ids,
// never phone numbers, codes or bodies.
//
// # Limits
//
// Three limits protect recipients and the platform, each answered with
// RESOURCE_EXHAUSTED (HTTP 429) naming it and a Retry-After of when its
// window has room again: recipient-hourly (Config.RecipientHourlyLimit,
// non-OTP SMS to one number; single sends are refused over it),
// client-minute (ClientMinuteLimit, a client's normal-lane messages;
// single sends are refused over it) and client-daily (ClientDailyLimit,
// all of a client's messages in the UTC day; single sends and bulk jobs
// are refused over it). Payment receipts count toward them but are never
// refused; OTP commands from the auth enabler count toward none.
//
// They are kept as counters, one limit_counters row per limit and key
// (the phone number or the client id) holding the window it counts, not
// counted from the notifications table: a send reads one row per limit by
// its primary key before its transaction (a cheap early refusal) and, in
// the transaction that writes its rows, increments each with one upsert
// (INSERT … ON CONFLICT DO UPDATE SET count = count + n … RETURNING) and
// is rolled back if that takes a count over its limit. The upsert holds
// the row's lock until the commit, so racing sends are counted one after
// the other: a limit of N lets exactly N through, on both engines. The
// cost of a send no longer grows with the day's messages (before, the
// daily limit counted the client's rows of the day on every send: 10 ms
// at 25,000); the price is that one client's sends (and one number's)
// commit one at a time past their counter rows, which are locked last in
// the transaction, in one order (recipients sorted, the client's minute,
// its day), so two sends never deadlock.
//
// The windows: client-daily is the UTC day, as before. client-minute and
// recipient-hourly were sliding windows (the last minute, the last hour);
// they are now fixed windows that open with the first message after the
// previous window closed and last a minute or an hour, and Retry-After is
// when the window closes (as before, it was when the oldest counted
// message left the window). Over a long time the rate is the same, N per
// window; but a burst at the end of one window and another at the start
// of the next may put up to 2N-1 messages within one minute or hour,
// where the sliding window allowed N. Counting starts empty when the
// counters are introduced (migration 0003): the windows open at that
// moment count from zero. Run prunes closed windows every minute (a
// closed counter and no counter mean the same), in bounded batches.
//
// # Hidden characters
//
// What a client sends is checked with the platform's display-text check
// (libs/textcheck) before anything is stored or queued: a template's name
// and subject as one line, its body (an SMS's text, an e-mail's body) as
// multi-line text; recipient e-mail addresses, references, personalisation
// keys and CSV header cells as addresses; personalisation values (and so
// every CSV value cell) as multi-line text, since they may fill an e-mail
// body (a subject collapses them to one line). Bidi embeddings, overrides
// and isolates (U+202A–202E, U+2066–2069), zero-width characters, NUL and
// the other controls and invalid UTF-8 are refused with INVALID_ARGUMENT
// naming the field — "personalisation.name", "rows[4].email_address",
// "csv" for a header — and the character as U+XXXX; a bulk job with one
// such cell queues nothing.
package notification
