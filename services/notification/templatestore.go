package notification

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// ClientTemplate is one version of a ministry client's template.
type ClientTemplate struct {
	ID        string
	ClientID  string
	Version   int
	Name      string
	Channel   string
	Language  string
	Subject   string
	Body      string
	CreatedAt time.Time
	// UpdatedAt is when this version was saved; CreatedAt is version 1's.
	UpdatedAt time.Time
}

// Template limits.
const (
	maxTemplateName    = 200
	maxTemplateSubject = 300
	maxTemplateBody    = 20000
	maxPageSize        = 500
	defaultPageSize    = 50
)

// ErrTemplateConflict means the template changed since base_version.
var ErrTemplateConflict = fmt.Errorf("the template has a newer version than base_version: %w", rpcerr.ErrConflict)

// TemplateInput is what a client gives to create or update a template.
type TemplateInput struct {
	Name, Channel, Language, Subject, Body string
}

// validateTemplate checks in; fields named as the API names them. Name and
// subject are one line of display text and the body (an SMS's text, an
// e-mail's body) multi-line display text: bidi controls, zero-width and
// control characters are refused (libs/textcheck).
func validateTemplate(in TemplateInput) error {
	var errs []error
	add := func(field, what, reason string, vals ...string) {
		errs = append(errs, &rpcerr.FieldError{Field: field, Reason: reason, Code: field + "." + what, Args: rpcerr.ArgList(vals...)})
	}
	text := func(field, s string, k textcheck.Kind) bool {
		if err := checkText(field, s, k); err != nil {
			errs = append(errs, err)
			return true
		}
		return false
	}
	switch {
	case strings.TrimSpace(in.Name) == "":
		add("name", "required", "required")
	case text("name", in.Name, textcheck.OneLine):
	case utf8.RuneCountInString(in.Name) > maxTemplateName:
		add("name", "too_long", fmt.Sprintf("longer than %d characters", maxTemplateName), strconv.Itoa(maxTemplateName))
	}
	if in.Channel != ChannelSMS && in.Channel != ChannelEmail {
		add("channel", "unsupported", `must be "sms" or "email"`)
	}
	if in.Language != LangArabic && in.Language != LangEnglish {
		add("language", "unsupported", `must be "ar" or "en"`)
	}
	switch {
	case in.Channel == ChannelEmail && strings.TrimSpace(in.Subject) == "":
		add("subject", "required", "required for e-mail templates")
	case in.Channel == ChannelSMS && in.Subject != "":
		add("subject", "not_allowed", "SMS templates have no subject")
	case text("subject", in.Subject, textcheck.OneLine):
	case strings.ContainsAny(in.Subject, "\r\n"):
		add("subject", "one_line", "must be one line")
	case utf8.RuneCountInString(in.Subject) > maxTemplateSubject:
		add("subject", "too_long", fmt.Sprintf("must be at most %d characters", maxTemplateSubject), strconv.Itoa(maxTemplateSubject))
	}
	switch {
	case strings.TrimSpace(in.Body) == "":
		add("body", "required", "required")
	case text("body", in.Body, textcheck.MultiLine):
	case utf8.RuneCountInString(in.Body) > maxTemplateBody:
		add("body", "too_long", fmt.Sprintf("must be at most %d characters", maxTemplateBody), strconv.Itoa(maxTemplateBody))
	}
	return errors.Join(errs...)
}

// CreateTemplate saves version 1 of a new template of client.
func (s *Service) CreateTemplate(ctx context.Context, client string, in TemplateInput) (ClientTemplate, error) {
	if err := validateTemplate(in); err != nil {
		return ClientTemplate{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "tpl_")
	if err != nil {
		return ClientTemplate{}, err
	}
	now := s.nowUTC()
	t := ClientTemplate{ID: id, ClientID: client, Version: 1, Name: in.Name, Channel: in.Channel, Language: in.Language,
		Subject: in.Subject, Body: in.Body, CreatedAt: now, UpdatedAt: now}
	if err := insertTemplate(ctx, s.DB, t); err != nil {
		return ClientTemplate{}, fmt.Errorf("notification: create template: %w", err)
	}
	return t, nil
}

// UpdateTemplate saves a new version of client's template id, which must
// still be at baseVersion. Channel and language never change; empty name
// or subject keep the current ones.
func (s *Service) UpdateTemplate(ctx context.Context, client, id string, baseVersion int, name, subject, body string) (ClientTemplate, error) {
	cur, err := s.GetTemplate(ctx, client, id, 0)
	if err != nil {
		return ClientTemplate{}, err
	}
	if baseVersion < 1 {
		return ClientTemplate{}, &rpcerr.FieldError{Field: "base_version", Reason: "required: the version the edit started from", Code: "base_version.required"}
	}
	if baseVersion != cur.Version {
		return ClientTemplate{}, ErrTemplateConflict
	}
	in := TemplateInput{Name: cur.Name, Channel: cur.Channel, Language: cur.Language, Subject: cur.Subject, Body: body}
	if name != "" {
		in.Name = name
	}
	if subject != "" {
		in.Subject = subject
	}
	if err := validateTemplate(in); err != nil {
		return ClientTemplate{}, err
	}
	now := s.nowUTC()
	next := ClientTemplate{ID: id, ClientID: client, Version: cur.Version + 1, Name: in.Name, Channel: cur.Channel,
		Language: cur.Language, Subject: in.Subject, Body: in.Body, CreatedAt: cur.CreatedAt, UpdatedAt: now}
	err = insertTemplate(ctx, s.DB, next)
	if store.IsUniqueViolation(err) {
		return ClientTemplate{}, ErrTemplateConflict
	}
	if err != nil {
		return ClientTemplate{}, fmt.Errorf("notification: update template: %w", err)
	}
	return next, nil
}

// errTemplateNotFound is what a client learns of a template that is not
// its own or does not exist (the same answer, so ids cannot be probed).
func errTemplateNotFound(id string) error {
	return fmt.Errorf("template %s: %w", id, rpcerr.ErrNotFound)
}

// GetTemplate returns version (0: the latest) of client's template id.
func (s *Service) GetTemplate(ctx context.Context, client, id string, version int) (ClientTemplate, error) {
	if version < 0 {
		return ClientTemplate{}, &rpcerr.FieldError{Field: "version", Reason: "must not be negative", Code: "version.negative"}
	}
	t, err := templateVersion(ctx, s.DB, client, id, version)
	if errors.Is(err, sql.ErrNoRows) {
		return ClientTemplate{}, errTemplateNotFound(id)
	}
	if err != nil {
		return ClientTemplate{}, fmt.Errorf("notification: template: %w", err)
	}
	if first, err := templateCreated(ctx, s.DB, id); err == nil {
		t.CreatedAt = first
	}
	return t, nil
}

// ListTemplates returns the latest version of client's templates, by id,
// filtered by channel and language when given; next is the page token of
// the next page ("" at the end).
func (s *Service) ListTemplates(ctx context.Context, client, channel, language string, pageSize int, pageToken string) ([]ClientTemplate, string, error) {
	if pageSize <= 0 {
		pageSize = defaultPageSize
	}
	pageSize = min(pageSize, maxPageSize)
	out, err := listTemplates(ctx, s.DB, client, channel, language, pageToken, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, pageSize, func(t ClientTemplate) string { return t.ID })
	return out, next, nil
}

// Rendered is a template rendered for one recipient.
type Rendered struct {
	Subject string
	// Text is the SMS text or the e-mail's plain-text part.
	Text string
	// HTML is the e-mail's HTML part ("" for SMS).
	HTML string
	// Length is the SMS encoding and segments (zero for e-mail).
	Length SMSLength
}

// checkValues refuses personalisation keys and values that display text
// may not hold (libs/textcheck): a key is an identifier, a value is
// multi-line text (it may fill an e-mail body; a subject collapses it to
// one line). Keys are checked in order, so that the answer names the same
// one every time; a bad key is reported on "personalisation" (its name is
// the problem), a bad value on "personalisation.<key>".
func checkValues(values map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if fe := textcheck.Check("personalisation", k, textcheck.Address); fe != nil {
			// The key is the caller's own name, so it stays out of the code.
			return &rpcerr.FieldError{Field: "personalisation", Reason: "a key " + fe.Reason, Code: "personalisation.key." + strings.TrimPrefix(fe.Code, "personalisation."), Args: fe.Args}
		}
		if fe := textcheck.Check("personalisation."+k, values[k], textcheck.MultiLine); fe != nil {
			fe.Code = "personalisation.value." + strings.TrimPrefix(fe.Code, rpcerr.FieldCode("personalisation."+k, ""))
			return fe
		}
	}
	return nil
}

// renderTemplate renders t with values. A missing value is a
// *rpcerr.FieldError on "personalisation" naming the placeholder.
func renderTemplate(t ClientTemplate, values map[string]string) (Rendered, error) {
	if err := checkValues(values); err != nil {
		return Rendered{}, err
	}
	text, err := renderPersonalised(t.Body, values)
	if err != nil {
		return Rendered{}, err
	}
	r := Rendered{Text: text}
	if t.Channel == ChannelSMS {
		r.Length = MeasureSMS(text)
		return r, nil
	}
	subject, err := renderPersonalised(t.Subject, values)
	if err != nil {
		return Rendered{}, err
	}
	// A subject is one line whatever the values hold.
	r.Subject = strings.Join(strings.Fields(subject), " ")
	r.HTML = RenderHTMLEmail(t.Language, r.Subject, t.Body, values)
	return r, nil
}

// renderPersonalised is Render with a missing value reported as the
// client's mistake: a *rpcerr.FieldError on "personalisation".
func renderPersonalised(text string, values map[string]string) (string, error) {
	out, err := Render(text, values)
	var mp *MissingPlaceholderError
	if errors.As(err, &mp) {
		return "", &rpcerr.FieldError{Field: "personalisation", Reason: fmt.Sprintf("no value for ((%s))", mp.Name), Code: "personalisation.missing", Args: rpcerr.ArgList(mp.Name)}
	}
	return out, err
}

// PreviewTemplate renders client's template id (latest version).
func (s *Service) PreviewTemplate(ctx context.Context, client, id string, values map[string]string) (Rendered, error) {
	t, err := s.GetTemplate(ctx, client, id, 0)
	if err != nil {
		return Rendered{}, err
	}
	return renderTemplate(t, values)
}
