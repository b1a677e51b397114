package notification

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/devinbox/*.sql
var devInboxFiles embed.FS

// DevInboxMigrations creates the dev inbox's table. Only `tamkeen dev`
// applies them: the dev inbox never exists in production.
func DevInboxMigrations() (store.MigrationSet, error) {
	dir, err := fs.Sub(devInboxFiles, "migrations/devinbox")
	if err != nil {
		return store.MigrationSet{}, err
	}
	return store.LoadMigrations("notification_devinbox", dir)
}

// InboxMessage is one SMS or e-mail the dev provider would have sent.
type InboxMessage struct {
	ID      string    `json:"id"`
	Channel string    `json:"channel"`
	To      string    `json:"to"`
	Subject string    `json:"subject,omitempty"`
	Body    string    `json:"body"`
	HTML    string    `json:"html,omitempty"`
	Time    time.Time `json:"time"`
}

// DevInbox keeps what the dev provider "sends" in the notification
// database, so that developers (and tests) can read the SMS codes and
// e-mails at GET /dev/inbox, and a restart keeps them.
type DevInbox struct {
	db  *store.DB
	now func() time.Time
}

// NewDevInbox returns the inbox on db, which must carry DevInboxMigrations.
// now may be nil (time.Now).
func NewDevInbox(db *store.DB, now func() time.Time) *DevInbox {
	return &DevInbox{db: db, now: host.OrNow(now)}
}

// maxInboxList bounds one listing.
const maxInboxList = 500

// Deliver stores m, setting its id and time when empty.
func (in *DevInbox) Deliver(ctx context.Context, m InboxMessage) (InboxMessage, error) {
	if m.ID == "" {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			return InboxMessage{}, err
		}
		m.ID = "dev_" + hex.EncodeToString(b[:])
	}
	if m.Time.IsZero() {
		m.Time = in.now()
	}
	m.Time = store.Stamp(m.Time)
	if err := insertInboxMessage(ctx, in.db, m); err != nil {
		return InboxMessage{}, fmt.Errorf("dev inbox: deliver: %w", err)
	}
	return m, nil
}

// List returns the newest messages first, to one recipient when to is not
// empty, at most limit (1..500) of them.
func (in *DevInbox) List(ctx context.Context, to string, limit int) ([]InboxMessage, error) {
	if limit <= 0 || limit > maxInboxList {
		limit = maxInboxList
	}
	return listInbox(ctx, in.db, to, limit)
}

// ServeHTTP answers GET /dev/inbox[?to=<recipient>][&limit=N] with
// {"messages": [...]}, newest first.
func (in *DevInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := maxInboxList
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxInboxList {
			writeProblem(w, http.StatusBadRequest, "limit must be an integer from 1 to 500")
			return
		}
		limit = n
	}
	to := q.Get("to")
	if len(to) > 320 {
		writeProblem(w, http.StatusBadRequest, "to is longer than 320 characters")
		return
	}
	msgs, err := in.List(r.Context(), to, limit)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "the dev inbox could not be read")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Messages []InboxMessage `json:"messages"`
	}{msgs})
}

// writeProblem writes a minimal RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail,
	})
}

// DevInbox is the dev inbox's page over the service's database, which
// `tamkeen dev` serves at /dev/inbox (loopback only).
func (s *Service) DevInbox() http.Handler { return NewDevInbox(s.DB, nil) }
