package gateway

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tamkeen/tamkeen/libs/events"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Session revocation: the auth enabler announces an ended session
// (logout, refresh-token reuse) as tamkeen.auth.session_revoked through
// its outbox. One gateway replica at a time takes each event from the
// shared durable consumer and puts the session id into a JetStream KV
// bucket; every replica watches the bucket into an in-memory set and
// refuses citizen tokens whose sid is in it. The bucket's TTL (stream
// MaxAge) is Config.RevokedSessionsTTL, at least the longest access-token
// lifetime, so the set holds only sessions whose tokens may still be
// alive. See docs/gateway.md.
const (
	// DefaultRevokedSessionsBucket is the KV bucket of revoked sessions.
	DefaultRevokedSessionsBucket = "tamkeen_gateway_revoked_sessions"
	// DefaultRevokedSessionsTTL is how long a revoked session is kept:
	// auth's default access-token-ttl (10m) plus its leeway and margin.
	DefaultRevokedSessionsTTL = 15 * time.Minute
	// revocationStream and revocationSubject are where auth publishes.
	revocationStream  = "AUTH"
	revocationSubject = "tamkeen.auth.session_revoked"
	// revocationConsumer is the durable consumer the replicas share.
	revocationConsumer = "gateway-session-revocations"
	// revocationRetry is the wait before setting up again after a failure
	// (NATS down, auth's stream not declared yet).
	revocationRetry = time.Second
)

// revocations is a replica's copy of the revoked sessions.
type revocations struct {
	nc     *nats.Conn
	bucket string
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu sync.RWMutex
	// set maps a session id to when its last token expires.
	set map[string]time.Time
}

func newRevocations(nc *nats.Conn, bucket string, ttl time.Duration, now func() time.Time, logger *slog.Logger) *revocations {
	return &revocations{nc: nc, bucket: bucket, ttl: ttl, now: now, logger: logger, set: map[string]time.Time{}}
}

// revoked reports whether the session sid has been ended.
func (r *revocations) revoked(sid string) bool {
	r.mu.RLock()
	until, ok := r.set[sid]
	r.mu.RUnlock()
	return ok && r.now().Before(until)
}

// add records a revoked session until expires.
func (r *revocations) add(sid string, expires time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	r.set[sid] = expires
	// Forget sessions whose tokens have all expired, so the set stays as
	// small as the bucket.
	for k, v := range r.set {
		if !now.Before(v) {
			delete(r.set, k)
		}
	}
}

// run keeps the replica's set up to date until ctx ends: it consumes the
// auth events into the bucket and watches the bucket into the set,
// setting both up again after any failure.
func (r *revocations) run(ctx context.Context) {
	warned := false
	for ctx.Err() == nil {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if !warned {
			// Once per outage: auth's stream may simply not exist yet.
			r.logger.WarnContext(ctx, "session revocations unavailable; retrying", slog.String("error", err.Error()))
			warned = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(revocationRetry):
		}
	}
}

// session binds the bucket, watches it and consumes the events until ctx
// ends or something fails.
func (r *revocations) session(ctx context.Context) error {
	js, err := jetstream.New(r.nc)
	if err != nil {
		return err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: r.bucket, History: 1, TTL: r.ttl,
		Description: "gateway: sessions ended early (logout, refresh-token reuse) whose access tokens are refused"})
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	cons, err := js.Consumer(ctx, revocationStream, revocationConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		// The first replica ever: start from the oldest event a token
		// still alive can be affected by.
		cons, err = js.CreateConsumer(ctx, revocationStream, jetstream.ConsumerConfig{
			Durable: revocationConsumer, FilterSubject: revocationSubject, AckPolicy: jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: ptr(r.now().Add(-r.ttl)),
		})
		if errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = js.Consumer(ctx, revocationStream, revocationConsumer)
		}
	}
	if err != nil {
		return err // e.g. auth has not declared its stream yet
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { r.store(ctx, kv, msg) })
	if err != nil {
		return err
	}
	defer cc.Stop()
	r.logger.InfoContext(ctx, "watching revoked sessions", slog.String("bucket", r.bucket))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("revoked sessions watch closed")
			}
			if e == nil {
				continue // the initial values are in
			}
			if e.Operation() != jetstream.KeyValuePut || len(e.Value()) != 8 {
				continue
			}
			r.add(e.Key(), time.UnixMilli(int64(binary.BigEndian.Uint64(e.Value()))))
		}
	}
}

// store puts the session of one session_revoked event into the bucket
// (its value: when the session's last token expires) and acknowledges it.
func (r *revocations) store(ctx context.Context, kv jetstream.KeyValue, msg jetstream.Msg) {
	ev, err := events.FromMessage(msg.Headers(), msg.Data())
	var sr eventsv1.SessionRevoked
	if err == nil {
		err = ev.UnmarshalData(&sr)
	}
	sid := sr.GetSessionId()
	if err != nil || !validSessionKey(sid) {
		r.logger.WarnContext(ctx, "dropping a malformed session_revoked event")
		_ = msg.Term()
		return
	}
	expires := sr.GetExpireTime().AsTime()
	if !r.now().Before(expires) {
		_ = msg.Ack() // every token of the session has expired
		return
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(expires.UnixMilli()))
	if _, err := kv.Put(ctx, sid, v[:]); err != nil {
		_ = msg.NakWithDelay(revocationRetry)
		return
	}
	// The watch may lag the put by a moment; this replica knows now.
	r.add(sid, expires)
	_ = msg.Ack()
}

// validSessionKey accepts session ids that are valid KV keys: auth's are
// "rtf_" and lower-case base32.
func validSessionKey(sid string) bool {
	if sid == "" || len(sid) > 128 {
		return false
	}
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func ptr[T any](v T) *T { return &v }
