package notification

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/devinbox/*.sql
var devInboxFiles embed.FS

// DevInboxMigrations creates the dev inbox's table. Only `tamkeen dev`
// applies them: the dev inbox never exists in production.
func DevInboxMigrations() (store.MigrationSet, error) {
	return store.LoadMigrations("notification_devinbox", devInboxFiles, "migrations/devinbox")
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

//go:embed devinbox.html
var devInboxPage string

// devInboxTemplate renders the inbox for people (devinbox.html).
var devInboxTemplate = template.Must(template.New("devinbox").Parse(devInboxPage))

// digitRun finds runs of ASCII digits; those of exactly six are
// one-time codes (the platform's length), other numbers (dates, amounts,
// phone numbers) are not.
var digitRun = regexp.MustCompile(`[0-9]+`)

// textPart is a run of a message's text; Code marks a one-time code.
type textPart struct {
	Text string
	Code bool
}

// splitCodes cuts body into text and one-time codes, so that the page
// shows each code in its own element.
func splitCodes(body string) []textPart {
	var parts []textPart
	last := 0
	for _, loc := range digitRun.FindAllStringIndex(body, -1) {
		if loc[1]-loc[0] != 6 {
			continue
		}
		if loc[0] > last {
			parts = append(parts, textPart{Text: body[last:loc[0]]})
		}
		parts = append(parts, textPart{Text: body[loc[0]:loc[1]], Code: true})
		last = loc[1]
	}
	if last < len(body) {
		parts = append(parts, textPart{Text: body[last:]})
	}
	return parts
}

// wantsHTML reports whether r asks for the page rather than JSON:
// ?format=html, or an Accept that names text/html (a browser) without
// ?format=json. JSON stays the default for everything else.
func wantsHTML(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "html":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, params, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/html" && params["q"] != "0" {
			return true
		}
	}
	return false
}

// serveHTML writes the inbox page.
func serveHTML(w http.ResponseWriter, to string, msgs []InboxMessage) {
	type pageMessage struct {
		InboxMessage
		Parts []textPart
	}
	page := struct {
		To       string
		Messages []pageMessage
	}{To: to}
	for _, m := range msgs {
		page.Messages = append(page.Messages, pageMessage{InboxMessage: m, Parts: splitCodes(m.Body)})
	}
	var b strings.Builder
	if err := devInboxTemplate.Execute(&b, page); err != nil {
		writeProblem(w, http.StatusInternalServerError, "the dev inbox page could not be rendered")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	_, _ = w.Write([]byte(b.String()))
}

// ServeHTTP answers GET /dev/inbox[?to=<recipient>][&limit=N] with
// {"messages": [...]}, newest first; a browser (Accept: text/html) or
// ?format=html gets the same messages as a page, each message's text
// laid out by its own direction (dir="auto": Arabic right to left) and
// each one-time code in its own element, selected whole by one click.
func (in *DevInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
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
	if wantsHTML(r) {
		serveHTML(w, to, msgs)
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
